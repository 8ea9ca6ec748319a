package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// The provider's own rules, on a real SQLite store; the protocol end to end,
// with real relying parties, is tested with the idplug binary
// (host/cmd/idplug/provider_test.go).

func testStore(t *testing.T) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "idplug.db"), store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testSealer(t *testing.T, keys ...string) *seal.Sealer {
	t.Helper()
	if len(keys) == 0 {
		keys = []string{strings.Repeat("k", 32)}
	}
	var raw [][]byte
	for _, k := range keys {
		raw = append(raw, []byte(k))
	}
	s, err := seal.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSubjectIsStableAndNotTheUpstreamID(t *testing.T) {
	a := subject("github", "12345")
	if a != subject("github", "12345") {
		t.Fatal("the same user gets two subjects")
	}
	if a == "12345" || strings.Contains(a, "12345") {
		t.Fatalf("sub %q shows the upstream id", a)
	}
	if a == subject("gitlab", "12345") || a == subject("github", "123456") {
		t.Fatal("two users share a subject")
	}
	// The separator keeps (ab, c) and (a, bc) apart.
	if subject("ab", "c") == subject("a", "bc") {
		t.Fatal("target and id run into each other")
	}
}

func TestEmailVerifiedIsWhatTheProviderSaid(t *testing.T) {
	for raw, want := range map[string]string{
		`{"email_verified": true}`:   "true",
		`{"email_verified": false}`:  "false",
		`{"email_verified": "true"}`: "true",
		`{"email_verified": "yes"}`:  "absent",
		`{"email_verified": 1}`:      "absent",
		`{}`:                         "absent",
		`not json`:                   "absent",
		`{"email_verified": null}`:   "absent",
	} {
		got := "absent"
		if v := emailVerified(json.RawMessage(raw), ""); v != nil {
			got = map[bool]string{true: "true", false: "false"}[*v]
		}
		if got != want {
			t.Errorf("%s: email_verified %s, want %s", raw, got, want)
		}
	}
}

// Apps put `picture` in an img's src as it comes: a provider's avatar goes
// out only as an http(s) URL.
func TestPictureIsAWebURLOnly(t *testing.T) {
	for avatar, want := range map[string]string{
		"https://avatars.example/1.png":       "https://avatars.example/1.png",
		"http://avatars.example/1.png":        "http://avatars.example/1.png",
		"javascript:alert(document.cookie)//": "",
		"JAVASCRIPT:alert(1)":                 "",
		"data:image/svg+xml,<svg onload=x>":   "",
		"//evil.example/x.png":                "",
		" https://avatars.example/1.png":      "",
	} {
		id := identityOf(Login{Instance: "acme", UserInfo: sdk.UserInfo{ID: "ada", Avatar: &avatar}}, "acme-target")
		if id.Picture != want {
			t.Errorf("avatar %q: picture %q, want %q", avatar, id.Picture, want)
		}
	}
}

func TestCheckRequest(t *testing.T) {
	public := &client{cfg: config.Client{ID: "spa", Public: true}}
	confidential := &client{cfg: config.Client{ID: "web"}}
	challenge := strings.Repeat("c", 43)
	ok := func() *oidc.AuthRequest {
		return &oidc.AuthRequest{Scopes: []string{"openid"}, CodeChallenge: challenge, CodeChallengeMethod: oidc.CodeChallengeMethodS256}
	}
	tests := []struct {
		name   string
		c      *client
		change func(*oidc.AuthRequest)
		want   string
	}{
		{"a good request", public, func(*oidc.AuthRequest) {}, ""},
		{"no openid scope", public, func(r *oidc.AuthRequest) { r.Scopes = []string{"profile"} }, "openid"},
		{"a public client without PKCE", public, func(r *oidc.AuthRequest) { r.CodeChallenge, r.CodeChallengeMethod = "", "" }, "public client must send"},
		{"a confidential client may go without", confidential, func(r *oidc.AuthRequest) { r.CodeChallenge, r.CodeChallengeMethod = "", "" }, ""},
		{"plain PKCE", confidential, func(r *oidc.AuthRequest) { r.CodeChallengeMethod = oidc.CodeChallengeMethodPlain }, "S256"},
		{"a challenge without a method", public, func(r *oidc.AuthRequest) { r.CodeChallengeMethod = "" }, "S256"},
		{"a challenge that is no SHA-256", public, func(r *oidc.AuthRequest) { r.CodeChallenge = "short" }, "43 characters"},
		{"fragment response mode", public, func(r *oidc.AuthRequest) { r.ResponseMode = oidc.ResponseModeFragment }, "response_mode"},
		{"a huge state", public, func(r *oidc.AuthRequest) { r.State = strings.Repeat("s", maxStateLen+1) }, "state is longer"},
		{"a huge nonce", public, func(r *oidc.AuthRequest) { r.Nonce = strings.Repeat("n", maxNonceLen+1) }, "nonce is longer"},
		{"a huge scope", public, func(r *oidc.AuthRequest) { r.Scopes = append(r.Scopes, strings.Repeat("x", maxScopeLen)) }, "scope is longer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.change(r)
			err := checkRequest(r, tc.c)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
}

func TestKeyRingMakesRotatesAndRetires(t *testing.T) {
	st := testStore(t)
	sealer := testSealer(t)
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	ring := newKeyRing(st, func() *seal.Sealer { return sealer }, 10*time.Minute, clock, hclog.NewNullLogger())
	ctx := t.Context()

	first, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.signers) != 2 || len(first.published) != 4 {
		t.Fatalf("first start: %d signers, %d published; want RS256 and ES256 signing, and their next keys published", len(first.signers), len(first.published))
	}
	rs := first.signers[jose.RS256].id
	nextRS := ""
	recs, _ := st.SigningKeys(ctx)
	for _, k := range recs {
		if k.Algorithm == "RS256" && k.State == stateNext {
			nextRS = k.ID
		}
		if strings.Contains(string(k.Sealed), "PRIVATE") || len(k.Sealed) < 100 {
			t.Fatalf("key %s is not sealed", k.ID)
		}
	}

	// A second replica reads the same keys, and makes none of its own.
	other := newKeyRing(st, func() *seal.Sealer { return sealer }, 10*time.Minute, clock, hclog.NewNullLogger())
	set, err := other.current(ctx)
	if err != nil || set.signers[jose.RS256].id != rs {
		t.Fatalf("the second replica signs with %v (%v), want %s", set.signers[jose.RS256], err, rs)
	}

	// The next key was published just now: relying parties' cached key sets
	// lack it, so a rotation waits, unless forced.
	var early ErrNextKeyTooNew
	if err := ring.rotate(ctx, false); !errors.As(err, &early) || early.Wait != nextKeyMinAge {
		t.Fatalf("a rotation as the next key is published: %v; want ErrNextKeyTooNew", err)
	}
	now = now.Add(nextKeyMinAge)
	if err := ring.rotate(ctx, false); err != nil {
		t.Fatal(err)
	}
	after, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.signers[jose.RS256].id; got != nextRS {
		t.Fatalf("after the rotation RS256 signs with %s, want the published next key %s", got, nextRS)
	}
	if !published(after, rs) {
		t.Fatal("the retired key is no longer published")
	}

	// Past the retirement window the retired key goes.
	now = now.Add(ring.retire + time.Minute)
	ring.cached = nil
	later, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if published(later, rs) {
		t.Fatal("a key retired past its window is still published")
	}

	// Under session keys that do not open it, a key is refused, named.
	stranger := newKeyRing(st, func() *seal.Sealer { return testSealer(t, strings.Repeat("z", 32)) }, 10*time.Minute, clock, hclog.NewNullLogger())
	if _, err := stranger.current(ctx); err == nil || !strings.Contains(err.Error(), "does not open under session_keys") {
		t.Fatalf("keys under another session key: %v", err)
	}
}

func TestSealedTokensOpenOnlyAsTheirKind(t *testing.T) {
	sealer := testSealer(t)
	p := &Provider{opts: Options{Sealer: func() *seal.Sealer { return sealer }, Now: time.Now}}
	rec := accessRecord{Grant: "g", Client: "web", Scopes: []string{"openid"}, Identity: identity{Sub: "sub-1"}}
	tok, err := p.seal(accessPurpose, rec, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c := &sealedCrypto{p: p}
	if enc, err := c.Encrypt(tok + ":sub-1"); err != nil || enc != tok {
		t.Fatalf("Encrypt = %q, %v; want the sealed record itself", enc, err)
	}
	if _, err := c.Encrypt(tok + ":someone-else"); err == nil {
		t.Fatal("an access token was issued for another subject than its record's")
	}
	if dec, err := c.Decrypt(tok); err != nil || dec != tok+":sub-1" {
		t.Fatalf("Decrypt = %q, %v", dec, err)
	}
	var r refreshRecord
	if err := p.open(refreshPurpose, tok, &r); err == nil {
		t.Fatal("an access token opened as a refresh token")
	}
	// One character changed, never to itself (writing "AA" over the end left a
	// token ending in "AA" as it was: 5 tokens in 20,000), and not the last,
	// whose low bits may be padding that decodes to the same bytes.
	tampered := []byte(tok)
	if i := len(tampered) - 2; tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	if _, err := c.Decrypt(string(tampered)); err == nil {
		t.Fatal("a tampered access token opened")
	}
}

func published(set *keySet, id string) bool {
	for _, k := range set.published {
		if k.ID() == id {
			return true
		}
	}
	return false
}

func TestExpiredTokensAreRefused(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	sealer, err := seal.New([][]byte{[]byte(strings.Repeat("k", 32))}, seal.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	st := testStore(t)
	p := &Provider{opts: Options{Sealer: func() *seal.Sealer { return sealer }, Store: st, Now: func() time.Time { return now },
		Config:  &config.Provider{AccessTokenTTL: time.Minute, RefreshTokenTTL: time.Hour},
		Targets: func(id string) (string, bool) { return "acme-target", id == "acme" }},
		clients: map[string]*client{"web": {cfg: config.Client{ID: "web"}}}}
	if _, err := st.PutGrant(t.Context(), "g", "web", "sub-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tok, _, err := p.accessToken("g", &grantView{req: authRequest{Scopes: []string{"openid"}}}, identity{Sub: "s", Instance: "acme"}, "web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.liveAccess(t.Context(), tok); err != nil {
		t.Fatalf("a fresh access token: %v", err)
	}
	now = now.Add(time.Minute + time.Second)
	if _, err := p.liveAccess(t.Context(), tok); err == nil {
		t.Fatal("an access token past its lifetime was honoured")
	}
	var rec refreshRecord
	refresh, err := p.seal(refreshPurpose, refreshRecord{Grant: "g", Client: "web"}, p.opts.Config.RefreshTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if err := p.open(refreshPurpose, refresh, &rec); err == nil {
		t.Fatal("a refresh token past its lifetime opened")
	}
}

// A second rotation minutes after the first would make a key sign that the
// relying parties' cached key sets (5 minutes of /keys) lack: refused, naming
// the wait, unless forced (a key that leaked), which rotates at once.
func TestRotationWaitsForItsNextKeyToBeKnown(t *testing.T) {
	st := testStore(t)
	sealer := testSealer(t)
	now := time.Unix(1_800_000_000, 0)
	ring := newKeyRing(st, func() *seal.Sealer { return sealer }, 10*time.Minute, func() time.Time { return now }, hclog.NewNullLogger())
	ctx := t.Context()
	if _, err := ring.current(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(24 * time.Hour)
	if err := ring.rotate(ctx, false); err != nil {
		t.Fatal(err)
	}
	before, _ := st.SigningKeys(ctx)
	now = now.Add(10 * time.Second)
	err := ring.rotate(ctx, false)
	var early ErrNextKeyTooNew
	if !errors.As(err, &early) || !strings.Contains(err.Error(), "published 10s ago") || !strings.Contains(err.Error(), "in 9m50s") {
		t.Fatalf("a second rotation 10 s after the first: %v", err)
	}
	if after, _ := st.SigningKeys(ctx); len(after) != len(before) {
		t.Fatalf("the refused rotation changed the keys: %d rows, then %d", len(before), len(after))
	}
	if err := ring.rotate(ctx, true); err != nil {
		t.Fatalf("a forced rotation: %v", err)
	}
	ring.cached = nil
	set, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mustKeys(t, st) {
		if r.State == stateActive && set.signers[jose.SignatureAlgorithm(r.Algorithm)].id != r.ID {
			t.Errorf("after the forced rotation, %s signs with %s, not the active %s", r.Algorithm, set.signers[jose.SignatureAlgorithm(r.Algorithm)].id, r.ID)
		}
		if r.State == stateActive && now.Sub(r.CreatedAt) >= nextKeyMinAge {
			t.Errorf("the forced rotation left %s's older key signing", r.Algorithm)
		}
	}
}

func mustKeys(t *testing.T, st store.SigningKeys) []store.SigningKeyRecord {
	t.Helper()
	recs, err := st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// A signing key that leaked is withdrawn at once, not retired: /keys stops
// publishing it, nothing signs with it, its algorithm signs with the next key
// and the other algorithm is untouched. A replica that cached the set drops
// it within keyCacheTTL.
func TestWithdrawnKeysStopAtOnce(t *testing.T) {
	st := testStore(t)
	sealer := testSealer(t)
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	ring := newKeyRing(st, func() *seal.Sealer { return sealer }, 10*time.Minute, clock, hclog.NewNullLogger())
	replica := newKeyRing(st, func() *seal.Sealer { return sealer }, 10*time.Minute, clock, hclog.NewNullLogger())
	ctx := t.Context()
	first, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replica.current(ctx); err != nil {
		t.Fatal(err)
	}
	leaked, es := first.signers[jose.RS256].id, first.signers[jose.ES256].id
	var nextRS string
	for _, r := range mustKeys(t, st) {
		if r.Algorithm == "RS256" && r.State == stateNext {
			nextRS = r.ID
		}
	}

	before := mustKeys(t, st)
	var unknown ErrUnknownKey
	if _, _, err := ring.withdraw(ctx, []string{"no-such-key"}, false); !errors.As(err, &unknown) || !strings.Contains(err.Error(), leaked) {
		t.Fatalf("withdrawing a key that is not stored: %v; want ErrUnknownKey listing the stored ids", err)
	}
	if after := mustKeys(t, st); len(after) != len(before) {
		t.Fatal("a refused withdrawal changed the keys")
	}

	gone, signing, err := ring.withdraw(ctx, []string{leaked}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gone, []string{leaked}) || !slices.Contains(signing, nextRS) || !slices.Contains(signing, es) {
		t.Fatalf("withdrew %v, signing %v; want %s gone, %s and %s signing", gone, signing, leaked, nextRS, es)
	}
	set, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if published(set, leaked) || set.signers[jose.RS256].id != nextRS || set.signers[jose.ES256].id != es {
		t.Fatalf("after the withdrawal: %s published %v; RS256 signs with %s (want %s), ES256 with %s (want %s)",
			leaked, published(set, leaked), set.signers[jose.RS256].id, nextRS, set.signers[jose.ES256].id, es)
	}
	if n := len(set.published); n != 4 {
		t.Fatalf("%d keys published after the withdrawal, want an active and a next key for each algorithm", n)
	}
	for _, r := range mustKeys(t, st) {
		if r.ID == leaked {
			t.Fatal("the withdrawn key's row is still stored")
		}
	}

	// The other replica signs from what it read until keyCacheTTL, then not.
	if cached, _ := replica.current(ctx); !published(cached, leaked) {
		t.Fatal("the replica read the store again before keyCacheTTL")
	}
	now = now.Add(keyCacheTTL)
	if fresh, err := replica.current(ctx); err != nil || published(fresh, leaked) || fresh.signers[jose.RS256].id == leaked {
		t.Fatalf("the replica still publishes or signs with the withdrawn key after keyCacheTTL (%v)", err)
	}

	// A retired key goes the same way, and the signing keys stay.
	now = now.Add(time.Hour)
	if err := ring.rotate(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ring.withdraw(ctx, []string{nextRS}, false); err != nil {
		t.Fatal(err)
	}
	set, _ = ring.current(ctx)
	if published(set, nextRS) || set.signers[jose.RS256] == nil {
		t.Fatal("the retired key is still published, or RS256 lost its signing key")
	}

	// Everything at once: no stored key is kept.
	old := mustKeys(t, st)
	gone, _, err = ring.withdraw(ctx, nil, true)
	if err != nil || len(gone) != len(old) {
		t.Fatalf("withdrawing every key: %v, %d of %d gone", err, len(gone), len(old))
	}
	set, _ = ring.current(ctx)
	for _, r := range old {
		if published(set, r.ID) {
			t.Fatalf("%s is still published after withdrawing every key", r.ID)
		}
	}
	if len(set.signers) != len(algorithms) {
		t.Fatal("no signing key of each algorithm after withdrawing every key")
	}

	// Under session keys that open none of them (a configuration that is not
	// the replicas'), nothing is withdrawn, not even everything: keys sealed
	// anew under them would leave every replica unable to sign.
	before = mustKeys(t, st)
	stranger := newKeyRing(st, func() *seal.Sealer { return testSealer(t, strings.Repeat("z", 32)) }, 10*time.Minute, clock, hclog.NewNullLogger())
	for _, all := range []bool{false, true} {
		ids := []string{set.signers[jose.RS256].id}
		if all {
			ids = nil
		}
		if _, _, err := stranger.withdraw(ctx, ids, all); err == nil || !strings.Contains(err.Error(), "does not open") {
			t.Fatalf("withdrawing (all: %v) under session keys that open none: %v", all, err)
		}
	}
	if after := mustKeys(t, st); !slices.EqualFunc(before, after, func(a, b store.SigningKeyRecord) bool { return a.ID == b.ID }) {
		t.Fatal("a refused withdrawal changed the keys")
	}
	ring.cached = nil
	if _, err := ring.current(ctx); err != nil {
		t.Fatalf("the replicas' keys after the refused withdrawal: %v", err)
	}
}
