package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"github.com/idplug/idplug/sdk"
)

// Timeout bounds one Apply. The cost limit stops a costly expression long
// before; this is the backstop should CEL's accounting ever miss one. The
// meter looks at the clock every so many units of work, and charges the
// calls that could outrun it before they run (see meter.go, guard.go).
const Timeout = time.Second

// backstop, when set (nanoseconds), replaces Timeout: for tests that must see
// the cost limit stop an expression before the clock does on a loaded machine.
var backstop atomic.Int64

func deadlineAfter() time.Duration {
	if d := backstop.Load(); d > 0 {
		return time.Duration(d)
	}
	return Timeout
}

// Result is a mapped profile.
type Result struct {
	// UserInfo is the profile after the mapping; RawData is the connector's.
	UserInfo sdk.UserInfo
	// Claims are the claims the mapping adds; empty, never nil, without any.
	Claims map[string]any
}

// Apply maps u, the profile a connector returned (its RawData is raw). A false
// allow rule is an authorization_failed error with the configured reason; an
// expression that fails, or goes over its cost or the result's size, is a
// mapping_failed error naming the expression. A nil or empty Mapping returns u
// unchanged.
//
// The expressions run as one program (compileWhole); only when that fails do
// they run one by one, each under its own limits, to find the one at fault
// and its error. Either way the answer is the one the one-by-one run gives.
func (m *Mapping) Apply(ctx context.Context, u sdk.UserInfo) (Result, error) {
	if m.Empty() {
		return Result{UserInfo: u, Claims: map[string]any{}}, nil
	}
	if ctx.Err() != nil {
		return Result{}, failed("not evaluated: the sign-in was cancelled or ran out of time")
	}
	act := &activation{u: u, withRaw: m.usesRaw}
	act.meter = meter{done: ctx.Done(), deadline: time.Now().Add(deadlineAfter())}
	if m.whole != nil {
		prg := m.whole
		if m.untracked != nil && inputSize(u) <= m.untrackedUpTo {
			prg = m.untracked
		}
		v, _, err := prg.Eval(act)
		switch v := v.(type) {
		case types.Bool: // allow was false
			if err == nil && !bool(v) {
				return Result{}, m.refusal()
			}
		case traits.Lister:
			if err == nil {
				return m.assemble(u, func(p *program) (ref.Val, error) {
					if p == m.allow {
						return types.True, nil
					}
					return v.Get(types.Int(p.index)), nil
				})
			}
		}
		// Again one by one, with a fresh meter.
		act.meter = meter{done: act.meter.done, deadline: act.meter.deadline}
	}
	return m.oneByOne(act)
}

// oneByOne evaluates each expression on its own, under its own cost limit:
// the reference for what Apply answers.
func (m *Mapping) oneByOne(act *activation) (Result, error) {
	return m.assemble(act.u, func(p *program) (ref.Val, error) { return p.eval(act) })
}

// assemble builds the result from the value of each expression, which eval
// gives: the allow rule first, then the fields and the claims in their order,
// stopping at the first refusal or error.
func (m *Mapping) assemble(u sdk.UserInfo, eval func(*program) (ref.Val, error)) (Result, error) {
	res := Result{UserInfo: u, Claims: map[string]any{}}
	if m.allow != nil {
		v, err := eval(m.allow)
		if err != nil {
			return Result{}, err
		}
		ok, isBool := v.(types.Bool)
		if !isBool {
			return Result{}, failed("allow yielded a %s, not a bool", v.Type().TypeName())
		}
		if !ok {
			return Result{}, m.refusal()
		}
	}

	budget := MaxResultBytes
	// The mapped fields' values, in one allocation rather than one each.
	values := make([]string, len(m.fields))
	for i := range m.fields {
		p := &m.fields[i]
		v, err := eval(p)
		if err != nil {
			return Result{}, err
		}
		s, err := profileValue(p.name, v, &values[i])
		if err != nil {
			return Result{}, err
		}
		if s != nil {
			budget -= jsonLen(*s)
		}
		if budget < 0 {
			return Result{}, overSize()
		}
		setField(&res.UserInfo, p.key, s)
	}
	if res.UserInfo.ID == "" {
		return Result{}, failed("id yielded an empty value; a profile needs an id")
	}
	for i := range m.claims {
		p := &m.claims[i]
		v, err := eval(p)
		if err != nil {
			return Result{}, err
		}
		budget -= len(p.key) + 4
		j, err := toJSON(v, &budget, 0)
		switch {
		case errors.Is(err, errTooLarge):
			return Result{}, overSize()
		case err != nil:
			// toJSON's own words: a type's name or a bound, never a value.
			return Result{}, failed("%s: %v", p.name, err)
		}
		if j != nil { // null and an empty optional leave the claim out
			res.Claims[p.key] = j
		}
	}
	return res, nil
}

func (m *Mapping) refusal() error {
	return &sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: m.allowReason}
}

// eval runs p on its own, turning CEL's failures into mapping_failed errors
// that name p.
func (p *program) eval(act *activation) (ref.Val, error) {
	v, _, err := p.prg.Eval(act)
	if err == nil {
		return v, nil
	}
	var cancelled interpreter.EvalCancelledError
	switch {
	case errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded:
		return nil, failed("%s: stopped at its cost limit; the mapping does too much work for this profile", p.name)
	case errors.As(err, &cancelled):
		return nil, failed("%s: stopped: the sign-in was cancelled, or the mapping ran for more than %s", p.name, deadlineAfter())
	}
	return nil, failed("%s: %s", p.name, problem(err, p.src))
}

// problem is CEL's error, fit for a message that reaches the API, the sign-in
// page and the log, which must not carry the profile's values: CEL quotes
// them ("no such key: <a role from the profile>", a timestamp or pattern read
// from it), at any size. What follows the first colon is kept only when src,
// the expression, holds it (a key the expression names) or it names types (a
// missing overload); nothing from the first quote on is kept, and the rest is
// cut.
func problem(err error, src string) string {
	msg := err.Error()
	if head, tail, ok := strings.Cut(msg, ": "); ok && head != "no such overload" && !strings.Contains(src, tail) {
		msg = head
	}
	// What CEL quotes is a value; quotes may be escaped inside it, so nothing
	// after the first one is kept (a single quote opens one after a space:
	// the mapping's own messages have apostrophes). Some messages name a
	// value unquoted after the word "value" ("cannot initialize optional
	// entry 'k' from non-optional value <the value>"): nothing after that
	// word is kept either.
	if i := strings.IndexAny(msg, "\"`"); i >= 0 {
		msg = msg[:i] + "…"
	}
	if i := strings.Index(msg, " '"); i >= 0 {
		msg = msg[:i+1] + "…"
	}
	if i := strings.Index(msg, " value "); i >= 0 {
		msg = msg[:i+len(" value")] + "…"
	}
	return runeCut(msg, 200)
}

// runeCut cuts s to at most n bytes, on a rune boundary.
func runeCut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// activation binds an evaluation's variables: profile, the fields the
// connector set, and raw, decoded only when an expression reads it, and
// once; and the meter. It is one allocation per sign-in, where a map of
// variables would be several, and converts nothing it is not asked for.
type activation struct {
	u       sdk.UserInfo
	withRaw bool
	profile ref.Val
	raw     ref.Val
	meter   meter
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case meterVar:
		return &a.meter, true
	case "profile":
		if a.profile == nil {
			a.profile = profileMap(a.u)
		}
		return a.profile, true
	case "raw":
		if !a.withRaw {
			return nil, false
		}
		if a.raw == nil {
			a.raw = decodeRaw(a.u.RawData)
		}
		return a.raw, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// profileMap is the profile as CEL sees it: the fields the connector set.
func profileMap(u sdk.UserInfo) ref.Val {
	profile := make(map[string]string, len(ProfileFields))
	profile["id"] = u.ID
	set := func(k string, v *string) {
		if v != nil {
			profile[k] = *v
		}
	}
	set("name", u.Name)
	set("avatar", u.Avatar)
	set("email", u.Email)
	set("phone", u.Phone)
	for _, v := range profile {
		if len(v) > MaxInputString {
			vals := make(map[ref.Val]ref.Val, len(profile))
			for k, v := range profile {
				vals[types.String(k)] = inputString(v)
			}
			return types.NewRefValMap(types.DefaultTypeAdapter, vals)
		}
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, profile)
}

// profileValue reads the value of a profile field into slot: a string sets
// it (and profileValue returns slot); null or an empty optional leaves it
// unset (nil).
func profileValue(name string, v ref.Val, slot *string) (*string, error) {
	if o, ok := v.(*types.Optional); ok {
		if !o.HasValue() {
			return nil, nil
		}
		v = o.GetValue()
	}
	switch s := v.(type) {
	case types.String:
		*slot = string(s)
		return slot, nil
	case types.Null:
		return nil, nil
	}
	return nil, failed("%s yielded a %s, not a string (string(...) converts one)", name, v.Type().TypeName())
}

func setField(u *sdk.UserInfo, field string, v *string) {
	switch field {
	case "id":
		if v != nil {
			u.ID = *v
		} else {
			u.ID = ""
		}
	case "name":
		u.Name = v
	case "avatar":
		u.Avatar = v
	case "email":
		u.Email = v
	case "phone":
		u.Phone = v
	}
}

func failed(format string, args ...any) error {
	return &sdk.Error{Code: CodeFailed, Message: "mapping: " + fmt.Sprintf(format, args...)}
}

func overSize() error {
	return failed("the mapped profile and claims are over %d bytes", MaxResultBytes)
}
