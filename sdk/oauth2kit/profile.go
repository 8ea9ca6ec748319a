package oauth2kit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/internal/jsonvalue"
)

// ProfileMap says where each profile field is in a provider's userinfo object, as a
// path: "sub", "data.user.id", "emails.0.value" (or "emails[0].value").
type ProfileMap struct {
	ID     string
	Name   string
	Avatar string
	Email  string
	Phone  string

	// EmailVerified, when set, is the path of the field that says whether the
	// provider verified the email address ("email_verified"): the email is mapped
	// only when that field is true (or the string "true", as some providers send
	// it), and left out otherwise, missing or null included, so that an unverified
	// address never signs anyone into the account that owns it. Empty maps the
	// email as the provider sends it. An Else's EmailVerified is tried when the
	// paths before give nothing, as for the other fields; which email it
	// vouches for, Else says.
	EmailVerified string

	// EmailVerifiedAt, when set, is the path of a field that says when the
	// provider verified the email address, and is null until it has: GitLab's
	// confirmed_at. The email is mapped only when that field holds a time (a
	// string other than "", or a number other than 0). With EmailVerified too,
	// both must say so.
	EmailVerifiedAt string

	// Else holds further paths, tried for a field when the paths before give
	// nothing: no value, null or "". {Name: "name", Else: &ProfileMap{Name:
	// "username"}} takes the name from name, else from username; an Else may have
	// an Else of its own. When every path gives "", the field is "".
	//
	// An email is checked against the verification fields of its own level: those
	// of the level whose Email path it came from and of the Elses after it up to
	// the next that names an Email, or, when these name none, those of the
	// nearest earlier level that does. So an Else's field never vouches for an
	// earlier level's email: {Email: "email", EmailVerified: "email_verified",
	// Else: {Email: "upn", EmailVerified: "upn_verified"}} leaves out an email
	// whose email_verified is missing, whatever upn_verified says.
	Else *ProfileMap
}

// paths lists the paths of one field ("id", "name"...), m's own first, then its Else chain's.
func (m *ProfileMap) paths(field string) []string {
	var out []string
	for ; m != nil; m = m.Else {
		var p string
		switch field {
		case "id":
			p = m.ID
		case "name":
			p = m.Name
		case "avatar":
			p = m.Avatar
		case "email":
			p = m.Email
		case "phone":
			p = m.Phone
		}
		if p != "" {
			out = append(out, p)
		}
		if len(out) > 16 {
			break // a chain that loops back on itself
		}
	}
	return out
}

// DefaultProfileMap maps every field to the key of the same name, as Logto does.
func DefaultProfileMap() ProfileMap {
	return ProfileMap{ID: "id", Name: "name", Avatar: "avatar", Email: "email", Phone: "phone"}
}

// CheckPath says whether path is usable as a ProfileMap path.
func CheckPath(path string) error {
	if path == "" {
		return fmt.Errorf("is empty")
	}
	for _, seg := range splitPath(path) {
		if seg == "" {
			return fmt.Errorf("%q has an empty segment (two dots in a row, or a dot at an end)", path)
		}
	}
	return nil
}

// MapProfile reads a userinfo JSON object into a profile. id is required and must be
// a string or a number (numbers keep every digit: 12345678901 stays
// "12345678901"); the other fields are dropped only when missing or null, so "",
// 0 and false are kept as the provider sent them. A path that reaches an object or
// an array is an error, so that a wrong profileMap is noticed rather than ignored.
// Every error is an *sdk.Error with code invalid_response.
func MapProfile(raw []byte, m ProfileMap) (sdk.UserInfo, error) {
	doc, err := decodeObject(raw)
	if err != nil {
		return sdk.UserInfo{}, err
	}
	id, err := profileID(doc, m.paths("id"))
	if err != nil {
		return sdk.UserInfo{}, err
	}
	u := sdk.UserInfo{ID: id, RawData: json.RawMessage(bytes.TrimSpace(raw))}
	for _, f := range []struct {
		field string
		dst   **string
	}{
		{"name", &u.Name},
		{"avatar", &u.Avatar},
		{"phone", &u.Phone},
	} {
		if *f.dst, err = optionalField(doc, f.field, m.paths(f.field)); err != nil {
			return sdk.UserInfo{}, err
		}
	}
	emailAt := ""
	if u.Email, emailAt, err = optionalFieldAt(doc, "email", m.paths("email")); err != nil {
		return sdk.UserInfo{}, err
	}
	if u.Email != nil && !emailVerification(&m, emailAt).verified(doc) {
		u.Email = nil
	}
	return u, nil
}

// verification is where a profile says its email is verified: the paths of
// EmailVerified and of EmailVerifiedAt, in the order they are tried.
type verification struct{ flags, times []string }

// emailVerification is the verification that stands for the email read at
// path: the fields named by the level that names path as its Email and by the
// Elses after it up to the next one naming an Email, or, when those name none,
// by the nearest earlier such group. A verification field of a level that
// names another email never vouches for this one.
func emailVerification(m *ProfileMap, path string) verification {
	var groups []verification // one per level naming an Email, with the Elses after it
	own := -1
	// Every level, however deep (the email's may be past any bound, and a
	// verification field found nowhere had let it through), each once: a chain
	// may loop back on itself.
	seen := map[*ProfileMap]bool{}
	for l := m; l != nil && !seen[l]; l = l.Else {
		seen[l] = true
		if l.Email != "" || len(groups) == 0 {
			groups = append(groups, verification{})
			if own < 0 && l.Email == path {
				own = len(groups) - 1
			}
		}
		g := &groups[len(groups)-1]
		if l.EmailVerified != "" {
			g.flags = append(g.flags, l.EmailVerified)
		}
		if l.EmailVerifiedAt != "" {
			g.times = append(g.times, l.EmailVerifiedAt)
		}
	}
	for i := own; i >= 0; i-- {
		if len(groups[i].flags)+len(groups[i].times) > 0 {
			return groups[i]
		}
	}
	return verification{}
}

// verified says whether v lets the email through: always when it names no
// field, else only when EmailVerified's field is true or "true" and
// EmailVerifiedAt's holds a time, each as far as it is named.
func (v verification) verified(doc map[string]any) bool {
	if len(v.flags) > 0 {
		switch f, _ := firstValue(doc, v.flags); f := f.(type) {
		case bool:
			if !f {
				return false
			}
		case string:
			if !strings.EqualFold(strings.TrimSpace(f), "true") {
				return false
			}
		default:
			return false
		}
	}
	if len(v.times) > 0 {
		switch at, _ := firstValue(doc, v.times); at := at.(type) {
		case string:
			if strings.TrimSpace(at) == "" {
				return false
			}
		case json.Number:
			if f, err := at.Float64(); err != nil || f == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func decodeObject(raw []byte) (map[string]any, error) {
	v, err := jsonvalue.Decode(raw)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the userinfo response is not valid JSON")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the userinfo response is not a JSON object")
	}
	return doc, nil
}

func profileID(doc map[string]any, paths []string) (string, error) {
	v, at := firstValue(doc, paths)
	if v == nil {
		return "", profileError("id", at, "the userinfo response has no value at %q (profileMap.id)", at)
	}
	switch v := v.(type) {
	case string:
		if v == "" {
			return "", profileError("id", at, "the userinfo response has an empty id at %q (profileMap.id)", at)
		}
		return v, nil
	case json.Number:
		return decimalString(v), nil
	default:
		return "", profileError("id", at, "the userinfo response has %s at %q (profileMap.id); an id must be a string or a number", jsonKind(v), at)
	}
}

func optionalField(doc map[string]any, field string, paths []string) (*string, error) {
	v, _, err := optionalFieldAt(doc, field, paths)
	return v, err
}

// optionalFieldAt is optionalField that also returns the path the value came from.
func optionalFieldAt(doc map[string]any, field string, paths []string) (*string, string, error) {
	v, at := firstValue(doc, paths)
	switch v := v.(type) {
	case nil:
		return nil, at, nil
	case string:
		return &v, at, nil
	case json.Number:
		return sdk.String(decimalString(v)), at, nil
	case bool:
		return sdk.String(strconv.FormatBool(v)), at, nil
	default:
		return nil, at, profileError(field, at, "the userinfo response has %s at %q (profileMap.%s); map it to a string inside it", jsonKind(v), at, field)
	}
}

// firstValue returns the value at the first of paths that holds something other
// than null or "", and that path; "" when the paths that hold anything hold ""; nil
// when none does. The path returned is where to look, for errors.
func firstValue(doc map[string]any, paths []string) (any, string) {
	var (
		empty any
		at    string
	)
	if len(paths) > 0 {
		at = paths[0]
	}
	for _, p := range paths {
		v, ok := lookupPath(doc, p)
		if !ok || v == nil {
			continue
		}
		if s, isString := v.(string); isString && s == "" {
			if empty == nil {
				empty, at = v, p
			}
			continue
		}
		return v, p
	}
	return empty, at
}

func profileError(field, path, format string, args ...any) *sdk.Error {
	return sdk.Errorf(sdk.CodeInvalidResponse, format, args...).
		WithDetail("field", field).
		WithDetail("path", path)
}

// lookupPath follows path through objects and arrays. Like Logto's (lodash's get),
// a top-level key that contains dots is found as written first.
func lookupPath(doc map[string]any, path string) (any, bool) {
	if v, ok := doc[path]; ok {
		return v, true
	}
	var cur any = doc
	for _, seg := range splitPath(path) {
		switch node := cur.(type) {
		case map[string]any:
			v, ok := node[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) || strconv.Itoa(i) != seg {
				return nil, false
			}
			cur = node[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// splitPath turns "a.b[0].c" into a, b, 0, c.
func splitPath(path string) []string {
	path = strings.ReplaceAll(path, "]", "")
	return strings.Split(strings.ReplaceAll(path, "[", "."), ".")
}

// decimalString writes a JSON number as plain decimal digits. Most numbers are
// kept exactly as the provider wrote them; only exponent forms such as 1e6 are
// rewritten, because an id like "1e+06" would never match "1000000" again. They
// are rewritten exactly, every digit kept: through a float64, two ids differing
// past the 16th digit (1.2345678901234567891E+19, ...890E+19) became one.
func decimalString(n json.Number) string {
	s := n.String()
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return s
	}
	exp, err := strconv.Atoi(s[i+1:])
	// No id has hundreds of digits; 1e999999999 would take a gigabyte to write.
	if err != nil || exp < -maxExponent || exp > maxExponent {
		return s
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	mantissa := s[:i]
	decimals := 0
	if dot := strings.IndexByte(mantissa, '.'); dot >= 0 {
		decimals = len(mantissa) - dot - 1
	}
	return r.FloatString(max(decimals-exp, 0))
}

// maxExponent bounds the exponent decimalString writes out.
const maxExponent = 100
