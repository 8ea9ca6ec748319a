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
// that scan their arguments (matches, contains) by their size.
//
// Every checkEvery calls it also looks at the caller's context and at the
// deadline (Timeout), the backstop behind both limits: checking there, rather
// than through CEL's own interrupt checks, spares each evaluation the
// cancellable context CEL would derive for it.

// MeterLimit bounds the metered work of one sign-in's whole mapping.
const MeterLimit = 100_000

// checkEvery is how many calls pass between two looks at the context and
// the clock.
const checkEvery = 64

// meterVar is the variable the meter of an evaluation is bound to; '@' keeps
// expressions from naming it.
const meterVar = "@idplug_meter"

type meter struct {
	used, calls int
	done        <-chan struct{} // the caller's context's
	deadline    time.Time
}

// metered wraps each function call of a program so that it charges the meter.
func metered(i interpreter.Interpretable) (interpreter.Interpretable, error) {
	if call, ok := i.(interpreter.InterpretableCall); ok {
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
	m, ok := vars.ResolveName(meterVar)
	if !ok {
		return v
	}
	mt := m.(*meter)
	mt.used++
	switch s := v.(type) {
	case types.String:
		mt.used += len(s) / 16
	case types.Bytes:
		mt.used += len(s) / 16
	}
	if mt.used > MeterLimit {
		panic(interpreter.EvalCancelledError{Cause: interpreter.CostLimitExceeded, Message: "mapping meter limit exceeded"})
	}
	if mt.calls++; mt.calls%checkEvery == 0 {
		mt.check()
	}
	return v
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
