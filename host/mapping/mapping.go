// Package mapping shapes the profile a connector returns into the one an
// operator wants: CEL expressions (cel.dev/cel-go) over the normalized profile
// (profile) and the provider's raw data (raw) that yield the profile fields,
// extra claims for the OpenID Provider's tokens, and an allow rule.
//
// Expressions are parsed and type-checked once, by Compile, when the
// configuration loads; a problem names the field and the place in the
// expression. Evaluation is bounded: each expression has a cost limit (CEL's
// own accounting, which grows with the size of the strings and lists it
// touches), a deadline as a backstop, and the values it yields have a size
// limit. An expression that goes over fails that one sign-in with
// mapping_failed; it cannot stall the host or grow its memory without bound.
package mapping

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"github.com/idplug/idplug/sdk"
)

// Limits of a mapping.
const (
	// CostLimit bounds CEL's runtime cost of one expression in one sign-in.
	// Typical mappings cost under a hundred; a list of a thousand
	// organizations mapped to names costs about three thousand. It is kept
	// low because cel-go's cost tracker itself does work growing with the
	// steps taken so far at each step of a comprehension (quadratic in the
	// limit): at 10,000 an expression that runs to its limit stops within
	// milliseconds.
	CostLimit = 10_000
	// MaxResultBytes bounds everything a mapping yields for one sign-in (the
	// profile fields and the claims, as JSON).
	MaxResultBytes = 16 << 10
	// MaxExpressionLen bounds the source of one expression, in bytes.
	MaxExpressionLen = 4 << 10
	// MaxClaims bounds the claims one mapping may add.
	MaxClaims = 32
	// MaxReasonLen bounds allow_reason, which is shown to people.
	MaxReasonLen = 200
	// maxNesting bounds comprehensions (map, filter, exists, all) inside one another.
	maxNesting = 2
	// maxParseDepth bounds the nesting of the expression's syntax.
	maxParseDepth = 32
	// maxValueDepth bounds the nesting of a value a mapping yields.
	maxValueDepth = 16
)

// CodeFailed is the error code of a sign-in whose mapping could not be
// evaluated (over its cost or size limit, a missing key, a wrong type).
const CodeFailed sdk.ErrorCode = "mapping_failed"

// DefaultAllowReason is the refusal's message when allow_reason is not set.
const DefaultAllowReason = "this account may not sign in here"

// ProfileFields are the profile fields a mapping may set, in the order they
// are evaluated and reported.
var ProfileFields = []string{"id", "name", "avatar", "email", "phone"}

// reservedClaims are the claims a mapping may not set: the protocol's own,
// which the OpenID Provider sets, and the profile's, which come from the
// mapped profile fields (set name with name:, not with claims).
var reservedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "nonce", "auth_time", "azp", "at_hash", "c_hash", "s_hash",
	"acr", "amr", "sid", "cnf", "scope", "client_id",
	"name", "picture", "email", "email_verified", "phone_number", "phone_number_verified", "connector",
}

var claimNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$`)

// Spec is a mapping as configured: the source of each expression.
type Spec struct {
	// Fields maps a profile field (see ProfileFields) to its expression; a
	// field left out keeps the connector's value.
	Fields map[string]string
	// Claims maps a claim name to its expression.
	Claims map[string]string
	// Allow, when set, is a bool expression: false refuses the sign-in.
	Allow string
	// AllowReason is the refusal's message (DefaultAllowReason when empty).
	AllowReason string
	// AllowIDChange must be true for Fields to hold id: a new id is a new
	// user for every app, so it is never changed by accident.
	AllowIDChange bool
}

// Problem is one reason a Spec was refused.
type Problem struct {
	// Field is the spec's key, like "name", "claims.groups" or "allow".
	Field string
	// Line and Column locate the problem in the expression (1-based); 0 when
	// it concerns the whole field.
	Line, Column int
	Message      string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s: line %d, column %d of the expression: %s", p.Field, p.Line, p.Column, p.Message)
	}
	return p.Field + ": " + p.Message
}

// CompileError lists every problem of a Spec.
type CompileError struct {
	Problems []Problem
}

func (e *CompileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "mapping: " + strings.Join(lines, "; ")
}

// Mapping is a compiled Spec, safe for concurrent use.
type Mapping struct {
	fields      []program // in ProfileFields order
	claims      []program // sorted by name
	allow       *program
	allowReason string
	usesRaw     bool
	// whole is every expression as one program (see compileWhole); nil
	// when the join did not compile. untracked is whole without CEL's cost
	// tracker, for inputs up to untrackedUpTo (see untrackedBound).
	whole, untracked cel.Program
	untrackedUpTo    int
	fingerprint      string
}

// program is one compiled expression.
type program struct {
	name string // "name", "claims.groups", "allow"
	key  string // the field or claim it sets
	src  string
	prg  cel.Program
	// index is its place in the list the whole program yields (fields,
	// then claims).
	index int
	raw   bool // it reads raw
}

// Compile parses and type-checks every expression of s. A problem anywhere
// comes back as a *CompileError listing all of them.
func Compile(s Spec) (*Mapping, error) {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	m := &Mapping{allowReason: s.AllowReason}
	if m.allowReason == "" {
		m.allowReason = DefaultAllowReason
	}
	if len(s.AllowReason) > MaxReasonLen {
		add("allow_reason", "is %d bytes, more than the limit of %d", len(s.AllowReason), MaxReasonLen)
	}
	if s.AllowReason != "" && s.Allow == "" {
		add("allow_reason", "is set without allow, the rule it explains")
	}
	for k := range s.Fields {
		if !slices.Contains(ProfileFields, k) {
			add(k, "is not a profile field (fields: %s)", strings.Join(ProfileFields, ", "))
		}
	}
	if _, ok := s.Fields["id"]; ok && !s.AllowIDChange {
		add("id", "changing the id makes every user a new user for the apps (their subject changes); "+
			"set allow_id_change: true to do it on purpose")
	}
	if len(s.Claims) > MaxClaims {
		add("claims", "has %d claims, more than the limit of %d", len(s.Claims), MaxClaims)
	}

	for _, f := range ProfileFields {
		src, ok := s.Fields[f]
		if !ok {
			continue
		}
		if p, ok := compileOne(f, f, src, kindString, &ps); ok {
			m.fields = append(m.fields, p)
		}
	}
	names := make([]string, 0, len(s.Claims))
	for k := range s.Claims {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		field := "claims." + k
		switch {
		case !claimNameRE.MatchString(k):
			add(field, "%q is not a claim name: letters, digits, _ . : -, starting with a letter or _, at most 64", k)
			continue
		case slices.Contains(reservedClaims, k):
			add(field, "%q is set by idplug itself (map the profile fields id, name, avatar, email, phone instead)", k)
			continue
		}
		// A relying party that matches claim names without regard to case (Go's
		// encoding/json does) would read "Sub" as sub, and of two names that
		// differ only in case, whichever the token lists last.
		if r := slices.IndexFunc(reservedClaims, func(r string) bool { return strings.EqualFold(r, k) }); r >= 0 {
			add(field, "%q differs from %q, which idplug sets itself, only in case: a relying party matching names without regard to case could read one as the other", k, reservedClaims[r])
			continue
		}
		if i := slices.IndexFunc(names, func(o string) bool { return o != k && strings.EqualFold(o, k) }); i >= 0 {
			add(field, "%q differs from the claim %q only in case: a relying party matching names without regard to case could read one as the other", k, names[i])
			continue
		}
		if p, ok := compileOne(field, k, s.Claims[k], kindJSON, &ps); ok {
			m.claims = append(m.claims, p)
		}
	}
	if s.Allow != "" {
		if p, ok := compileOne("allow", "allow", s.Allow, kindBool, &ps); ok {
			m.allow = &p
		}
	}
	if len(ps) > 0 {
		return nil, &CompileError{Problems: ps}
	}
	for _, p := range m.all() {
		m.usesRaw = m.usesRaw || p.raw
	}
	for i := range m.fields {
		m.fields[i].index = i
	}
	for i := range m.claims {
		m.claims[i].index = len(m.fields) + i
	}
	if !m.Empty() {
		compileWhole(m)
		m.fingerprint = fingerprint(m.all())
	}
	return m, nil
}

// Fingerprint names what m does to a profile: the same for two mappings of
// the same expressions, whatever their order in the file, and "" for one that
// changes nothing (a nil Mapping too). The reason shown for a refusal is not
// part of it.
func (m *Mapping) Fingerprint() string {
	if m == nil {
		return ""
	}
	return m.fingerprint
}

func fingerprint(ps []program) string {
	h := sha256.New()
	for _, p := range ps { // the allow rule, then fields and claims in a fixed order
		fmt.Fprintf(h, "%d:%s%d:%s", len(p.name), p.name, len(p.src), p.src)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// all lists every program, the allow rule first (the order Apply runs them).
func (m *Mapping) all() []program {
	var out []program
	if m.allow != nil {
		out = append(out, *m.allow)
	}
	out = append(out, m.fields...)
	return append(out, m.claims...)
}

// Empty reports whether m changes nothing (a nil Mapping is empty).
func (m *Mapping) Empty() bool {
	return m == nil || (len(m.fields) == 0 && len(m.claims) == 0 && m.allow == nil)
}
