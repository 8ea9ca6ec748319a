package mapping

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/idplug/idplug/sdk"
)

// Timeout bounds one Apply. The cost limit stops a costly expression long
// before; this is the backstop should CEL's accounting ever miss one.
const Timeout = time.Second

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
func (m *Mapping) Apply(ctx context.Context, u sdk.UserInfo) (Result, error) {
	res := Result{UserInfo: u, Claims: map[string]any{}}
	if m.Empty() {
		return res, nil
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	vars := bindings(u, m.usesRaw)

	if m.allow != nil {
		v, err := m.allow.eval(ctx, vars)
		if err != nil {
			return Result{}, err
		}
		ok, isBool := v.(types.Bool)
		if !isBool {
			return Result{}, failed("allow yielded a %s, not a bool", v.Type().TypeName())
		}
		if !ok {
			return Result{}, &sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: m.allowReason}
		}
	}

	budget := MaxResultBytes
	for _, p := range m.fields {
		v, err := p.eval(ctx, vars)
		if err != nil {
			return Result{}, err
		}
		s, err := profileValue(p.name, v)
		if err != nil {
			return Result{}, err
		}
		if s != nil {
			budget -= len(*s)
		}
		if budget < 0 {
			return Result{}, overSize()
		}
		setField(&res.UserInfo, p.key, s)
	}
	if res.UserInfo.ID == "" {
		return Result{}, failed("id yielded an empty value; a profile needs an id")
	}
	for _, p := range m.claims {
		v, err := p.eval(ctx, vars)
		if err != nil {
			return Result{}, err
		}
		budget -= len(p.key) + 4
		j, err := toJSON(v, &budget, 0)
		switch {
		case errors.Is(err, errTooLarge):
			return Result{}, overSize()
		case err != nil:
			return Result{}, failed("%s: %v", p.name, err)
		}
		if j != nil { // null and an empty optional leave the claim out
			res.Claims[p.key] = j
		}
	}
	return res, nil
}

// eval runs p, turning CEL's failures into mapping_failed errors that name p.
func (p *program) eval(ctx context.Context, vars map[string]any) (ref.Val, error) {
	if ctx.Err() != nil {
		return nil, failed("%s: not evaluated: the sign-in was cancelled or ran out of time", p.name)
	}
	v, _, err := p.prg.ContextEval(ctx, vars)
	if err == nil {
		return v, nil
	}
	var cancelled interpreter.EvalCancelledError
	switch {
	case errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded:
		return nil, failed("%s: stopped at its cost limit; the mapping does too much work for this profile", p.name)
	case errors.As(err, &cancelled) || ctx.Err() != nil:
		return nil, failed("%s: stopped after %s", p.name, Timeout)
	}
	return nil, failed("%s: %v", p.name, err)
}

// bindings are the expression's variables: profile, the fields the connector
// set, and raw, decoded only when an expression reads it, and once.
func bindings(u sdk.UserInfo, withRaw bool) map[string]any {
	profile := map[string]string{"id": u.ID}
	for k, v := range map[string]*string{"name": u.Name, "avatar": u.Avatar, "email": u.Email, "phone": u.Phone} {
		if v != nil {
			profile[k] = *v
		}
	}
	vars := map[string]any{"profile": profile, meterVar: &meter{}}
	if withRaw {
		var decoded ref.Val
		vars["raw"] = func() ref.Val {
			if decoded == nil {
				decoded = decodeRaw(u.RawData)
			}
			return decoded
		}
	}
	return vars
}

// profileValue reads the value of a profile field: a string sets it; null or
// an empty optional leaves it unset.
func profileValue(name string, v ref.Val) (*string, error) {
	if o, ok := v.(*types.Optional); ok {
		if !o.HasValue() {
			return nil, nil
		}
		v = o.GetValue()
	}
	switch s := v.(type) {
	case types.String:
		str := string(s)
		return &str, nil
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
