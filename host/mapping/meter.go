package mapping

import (
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// CEL's own cost tracker misses some calls: it charged `raw.s + raw.s` 5
// units whatever the size of raw.s (cel-go v0.32), so a chain of
// concatenations could build a string of gigabytes within its limit. The
// meter charges every function call of a sign-in's mapping one unit plus one
// for each 16 bytes of the string it returns, and stops the evaluation at
// MeterLimit: the strings a mapping builds stay under 16 * MeterLimit bytes,
// and its calls (one at least for each step of a comprehension) under
// MeterLimit. It runs beside CEL's cost limit, which charges the functions
// that scan their arguments (matches, contains) by their size. The calls
// whose one run can do far more work than CEL charges them (comparisons of
// nested lists, matches) charge the meter before they run (see guard.go).
//
// Every checkEvery units it also looks at the caller's context and at the
// deadline (Timeout), the backstop behind both limits: checking there, rather
// than through CEL's own interrupt checks, spares each evaluation the
// cancellable context CEL would derive for it.

// MeterLimit bounds the metered work of one sign-in's whole mapping.
const MeterLimit = 100_000

// checkEvery is how many units pass between two looks at the context and
// the clock.
const checkEvery = 64

// meterVar is the variable the meter of an evaluation is bound to; '@' keeps
// expressions from naming it.
const meterVar = "@idplug_meter"

type meter struct {
	used      int
	nextCheck int             // the next look at the context and the clock is due at this much used
	done      <-chan struct{} // the caller's context's
	deadline  time.Time
}

// metered wraps each function call of a program so that it charges the meter,
// and replaces those that must charge before they run (see guard).
func metered(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	if call, ok := i.(interpreter.InterpretableCall); ok {
		if g := guard(call); g != nil {
			call = g
		}
		return meteredCall{call}, nil
	}
	return i, nil
}

type meteredCall struct{ interpreter.InterpretableCall }

func (c meteredCall) Eval(vars interpreter.Activation) ref.Val {
	return charge(vars, c.InterpretableCall.Eval(vars))
}

func (c meteredCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	return charge(frame, c.InterpretableCall.Exec(frame))
}

func charge(vars interpreter.Activation, v ref.Val) ref.Val {
	n := 1
	switch s := v.(type) {
	case types.String:
		n += len(s) / 16
	case types.Bytes:
		n += len(s) / 16
	}
	meterOf(vars).spend(n)
	return v
}

// meterOf is the meter of an evaluation; nil (which charges nothing) for an
// activation without one.
func meterOf(vars interpreter.Activation) *meter {
	if m, ok := vars.ResolveName(meterVar); ok {
		return m.(*meter)
	}
	return nil
}

// spend charges n units, stopping the evaluation instead when they would take
// it past MeterLimit: work charged before it is done is then never done.
func (mt *meter) spend(n int) {
	if mt == nil {
		return
	}
	if n > MeterLimit-mt.used {
		panic(interpreter.EvalCancelledError{Cause: interpreter.CostLimitExceeded, Message: "mapping meter limit exceeded"})
	}
	mt.used += n
	if mt.used >= mt.nextCheck {
		mt.nextCheck = mt.used + checkEvery
		mt.check()
	}
}

// left is how many units the evaluation may still spend.
func (mt *meter) left() int {
	if mt == nil {
		return MeterLimit
	}
	return MeterLimit - mt.used
}

// check stops the evaluation if the caller gave up or the deadline passed.
func (mt *meter) check() {
	select {
	case <-mt.done:
		panic(interpreter.EvalCancelledError{Cause: interpreter.ContextCancelled, Message: "the sign-in was cancelled"})
	default:
	}
	if time.Now().After(mt.deadline) {
		panic(interpreter.EvalCancelledError{Cause: interpreter.ContextCancelled, Message: "mapping deadline exceeded"})
	}
}
