package connectortest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/idplug/idplug/sdk"
)

// profileWatch collects, for secrets/profile, what the profiles of a run's
// sign-ins carried that no profile may.
type profileWatch struct {
	mu sync.Mutex
	// seen counts the profiles looked into.
	seen  int
	leaks []profileLeak
}

// profileLeak is one secret in one place of a profile, said whole, and the check
// whose sign-in returned it.
type profileLeak struct{ check, said string }

// issuedWhat names each kind of value the fake provider issues.
var issuedWhat = map[string]string{
	"code":    "an authorization code the provider issued",
	"access":  "an access token the provider issued",
	"refresh": "a refresh token the provider issued",
	"id":      "an ID token the provider issued",
}

// watchProfile looks into the profile a sign-in returned. Apps get the profile
// (rawData included); a person's provider tokens must reach none of them, as idplug
// keeps those in its token vault, for the connectors that ask for them only.
func (k *kit) watchProfile(res *sdk.UserInfoResult) {
	if res == nil {
		return
	}
	found := profileFindings(res.UserInfo, k.profileNeedles(res.Tokens))
	k.leaks.mu.Lock()
	check := k.leaks.check
	k.leaks.mu.Unlock()
	k.profiles.mu.Lock()
	defer k.profiles.mu.Unlock()
	k.profiles.seen++
	for _, f := range found {
		k.profiles.leaks = append(k.profiles.leaks, profileLeak{check, f.String()})
	}
}

// profileNeedles are the values no profile may carry: those no error may carry
// but for the planted secret (never in a configuration that signs in), each code
// and token the provider issued by its kind, and the tokens UserInfo handed back
// beside the profile (an ID token too).
func (k *kit) profileNeedles(tokens *sdk.TokenSet) []needle {
	all := k.secretNeedles()
	if p := k.opts.Provider; p != nil {
		for _, v := range p.issuedWithKinds() {
			all = append(all, needle{v.value, issuedWhat[v.kind]})
		}
	}
	if tokens != nil {
		all = append(all,
			needle{tokens.AccessToken, "the access token UserInfo handed back"},
			needle{tokens.RefreshToken, "the refresh token UserInfo handed back"},
			needle{tokens.IDToken, "the ID token UserInfo handed back"})
	}
	// One needle per value, so that one leak is one finding: the client secret is
	// both a confidential item and the provider's, a token both issued and handed
	// back.
	out := make([]needle, 0, len(all))
	seen := map[string]bool{}
	for _, n := range all {
		if len(n.value) >= minNeedle && !seen[n.value] {
			seen[n.value] = true
			out = append(out, n)
		}
	}
	return out
}

func checkSecretsProfile(k *kit, t T) {
	k.profiles.mu.Lock()
	seen, leaks := k.profiles.seen, slices.Clone(k.profiles.leaks)
	k.profiles.mu.Unlock()
	if seen == 0 {
		k.needSignIn(t)
		t.Skipf("no sign-in returned a profile to look into: the checks that sign in were skipped")
	}
	said := map[string]bool{}
	for _, l := range leaks {
		if said[l.said] {
			continue
		}
		said[l.said] = true
		t.Errorf("%s, first in the sign-in of %s; apps get the profile: hand tokens back in UserInfoResult.Tokens (the host keeps them in its token vault) and fill rawData from the provider's profile alone", l.said, l.check)
	}
}

// finding is a needle found in a profile.
type finding struct {
	// field is the profile's: id, name, avatar, email, phone or rawData.
	field string
	// at is where in rawData, "" for another field.
	at string
	// how are the decodings that showed the needle, outermost first.
	how  []string
	what string
}

// String says where the needle is, never what it is.
func (f finding) String() string {
	var where []string
	if f.at != "" {
		where = append(where, "at "+f.at)
	}
	if len(f.how) > 0 {
		inner := slices.Clone(f.how)
		slices.Reverse(inner)
		where = append(where, strings.Join(inner, " inside "))
	}
	s := fmt.Sprintf("the profile's %s carries %s", f.field, f.what)
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s
}

// profileFindings looks for needles in every field of u: every string of rawData,
// its keys too, as JSON decodes them (so that no JSON escape hides one), and what
// each string reads as once decoded (decodings).
func profileFindings(u sdk.UserInfo, needles []needle) []finding {
	s := profileSearch{needles: needles, seen: map[string]bool{}}
	s.look("id", "", u.ID)
	for _, f := range []struct {
		name  string
		value *string
	}{{"name", u.Name}, {"avatar", u.Avatar}, {"email", u.Email}, {"phone", u.Phone}} {
		if f.value != nil {
			s.look(f.name, "", *f.value)
		}
	}
	if len(u.RawData) > 0 {
		d := json.NewDecoder(bytes.NewReader(u.RawData))
		d.UseNumber()
		var doc any
		if d.Decode(&doc) != nil {
			s.look("rawData", "", string(u.RawData))
		} else {
			s.walk(doc, "rawData")
		}
	}
	return s.found
}

type profileSearch struct {
	needles []needle
	found   []finding
	// seen keeps one finding per place and kind of needle.
	seen map[string]bool
}

// look looks for every needle in text, which is at field (and at, in rawData),
// and says whether it found one.
func (s *profileSearch) look(field, at, text string) bool {
	views := decodings(text)
	hit := false
	for _, n := range s.needles {
		for _, v := range views {
			if !strings.Contains(v.text, n.value) {
				continue
			}
			hit = true
			if key := field + "\x00" + at + "\x00" + n.what; !s.seen[key] {
				s.seen[key] = true
				s.found = append(s.found, finding{field, at, v.how, n.what})
			}
			break
		}
	}
	return hit
}

// walk looks into every string, number and key of a JSON value at path in rawData.
func (s *profileSearch) walk(v any, path string) {
	switch v := v.(type) {
	case string:
		s.look("rawData", path, v)
	case json.Number:
		s.look("rawData", path, v.String())
	case []any:
		for i, e := range v {
			s.walk(e, fmt.Sprintf("%s[%d]", path, i))
		}
	case map[string]any:
		for _, key := range sortedKeys(v) {
			seg := keySegment(key)
			if s.look("rawData", "a key of "+path, key) {
				seg = ".(a key withheld)" // a path that names it would show it
			}
			s.walk(v[key], path+seg)
		}
	}
}

// keySegment is how a path names key: .key, or ["key"] when it is no plain name.
func keySegment(key string) string {
	plain := key != "" && len(key) <= 64
	for i := 0; plain && i < len(key); i++ {
		c := key[i]
		plain = isAlnum(c) || c == '_' || c == '-'
	}
	if plain {
		return "." + key
	}
	if len(key) > 64 {
		key = key[:64] + "..."
	}
	return "[" + strconv.Quote(key) + "]"
}
