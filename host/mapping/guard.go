package mapping

import (
	"math"
	"regexp/syntax"

	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// CEL charges a call once it has returned, by the outer size of its
// arguments. A few calls can do far more work than that in one run:
//
//   - == and != compare lists and maps element by element at every depth,
//     for a tenth of the outer length. Lists share what they hold: two map
//     steps can build a list of 400 references to one 100,000-element list,
//     whose comparison walks 40 million elements and costs CEL 40 units;
//   - in compares its left side with each element of the list alike;
//   - + on lists costs CEL one unit, though it makes a list as long as both
//     (a view over the two, whose every read descends the chain of views);
//   - matches compiles the pattern and runs the program over the string:
//     work in the program's size times the string's length, where CEL
//     charges the pattern's length ("(a*a*a*){1000}", 14 bytes, compiles
//     to 8,000 instructions).
//
// Neither the meter's look at the clock between calls nor CEL's cost tracker
// (cel-go asks its ActualCostEstimator once the call has returned, and the
// untracked program has no tracker) can stop such a call once it runs. guard
// replaces these calls with ones that measure their work first and charge
// it to the meter: past the limit, the evaluation stops before the call
// instead of after it. They answer as the calls cel-go plans for them
// (evalEq, evalNe, evalBinary with the standard library's bindings).

// walkUnit is how many elements a comparison or a concatenation covers for
// one unit of the meter; a string counts one element for each walkUnit bytes.
const walkUnit = 16

// regexUnit is how many steps of a regular expression (its program's size
// times the string's length) make one unit.
const regexUnit = 32

// overLimit is more than any meter has left.
const overLimit = math.MaxInt

// guard returns the call that charges the meter for call's work before
// doing it, or nil when call needs none.
func guard(call interpreter.InterpretableCall) interpreter.InterpretableCall {
	args := call.Args()
	if len(args) != 2 {
		return nil
	}
	var run func(vars interpreter.Activation, l, r ref.Val) ref.Val
	switch call.Function() {
	case operators.Equals:
		run = func(vars interpreter.Activation, l, r ref.Val) ref.Val {
			chargeEqual(vars, l, r)
			return types.Equal(l, r)
		}
	case operators.NotEquals:
		run = func(vars interpreter.Activation, l, r ref.Val) ref.Val {
			chargeEqual(vars, l, r)
			return types.Bool(types.Equal(l, r) != types.True)
		}
	case operators.In:
		run = func(vars interpreter.Activation, l, r ref.Val) ref.Val {
			c, ok := r.(traits.Container)
			if !ok {
				return types.ValOrErr(r, "no such overload")
			}
			chargeIn(vars, l, r)
			return c.Contains(l)
		}
	case operators.Add:
		// Typed as something else than lists, + needs no guard.
		if o := call.OverloadID(); o != overloads.AddList && o != "" {
			return nil
		}
		run = func(vars interpreter.Activation, l, r ref.Val) ref.Val {
			if !l.Type().HasTrait(traits.AdderType) {
				return noSuchOverload(call)
			}
			chargeConcat(vars, l, r)
			return l.(traits.Adder).Add(r)
		}
	case overloads.Matches:
		size := int64(-1) // a pattern known only when the call runs is sized then
		if c, ok := args[1].(interpreter.InterpretableConst); ok {
			if p, ok := c.Value().(types.String); ok {
				size = regexSize(string(p))
			}
		}
		run = func(vars interpreter.Activation, l, r ref.Val) ref.Val {
			if !l.Type().HasTrait(traits.MatcherType) {
				return noSuchOverload(call)
			}
			chargeMatch(vars, l, r, size)
			return l.(traits.Matcher).Match(r)
		}
	default:
		return nil
	}
	return &guardedCall{InterpretableCall: call, lhs: args[0], rhs: args[1], run: run}
}

// guardedCall evaluates both arguments, as CEL's binary calls do (an error
// or unknown on the left is the answer, without evaluating the right), then
// run, which charges the meter before it does the work.
type guardedCall struct {
	interpreter.InterpretableCall // the call CEL planned: its id, function, overload and arguments
	lhs, rhs                      interpreter.InterpretableV2
	run                           func(vars interpreter.Activation, lhs, rhs ref.Val) ref.Val
}

func (g *guardedCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	l := g.lhs.Exec(frame)
	if types.IsUnknownOrError(l) {
		return l
	}
	r := g.rhs.Exec(frame)
	if types.IsUnknownOrError(r) {
		return r
	}
	return types.LabelErrNode(g.ID(), g.run(frame, l, r))
}

func (g *guardedCall) Eval(vars interpreter.Activation) ref.Val {
	return g.Exec(interpreter.AsFrame(vars))
}

func noSuchOverload(call interpreter.InterpretableCall) ref.Val {
	return types.NewErrWithNodeID(call.ID(), "no such overload: %s", call.Function())
}

// chargeEqual charges what comparing l and r costs: the walk goes through
// both side by side and stops where they differ, so it covers at most the
// smaller. Scalars, and a list or map against a scalar, are answered at once.
func chargeEqual(vars interpreter.Activation, l, r ref.Val) {
	if !isAggregate(l) || !isAggregate(r) {
		return
	}
	mt := meterOf(vars)
	n, ok := smallerSize(l, r, walkLimit(mt))
	if !ok {
		n = overLimit
	}
	mt.spend(n / walkUnit)
}

// chargeIn charges what looking x up in coll costs: in a list, a comparison
// with each element, each walking at most the smaller of the two (in a map,
// a lookup of the key).
func chargeIn(vars interpreter.Activation, x, coll ref.Val) {
	l, ok := coll.(traits.Lister)
	if !ok {
		return
	}
	n := length(l)
	if n == 0 {
		return
	}
	mt := meterOf(vars)
	limit := walkLimit(mt)
	if sx, ok := nestedSize(x, limit/n); ok {
		mt.spend(n * sx / walkUnit)
	} else if sl, ok := nestedSize(coll, limit); ok {
		mt.spend(sl / walkUnit)
	} else {
		mt.spend(overLimit)
	}
}

// chargeConcat charges what l + r costs: the length of the list it makes,
// which each later read of an element may walk through. The accumulator of
// map and filter (never an expression's value) instead copies r's elements
// in, one for each step.
func chargeConcat(vars interpreter.Activation, l, r ref.Val) {
	ll, ok1 := l.(traits.Lister)
	rl, ok2 := r.(traits.Lister)
	if !ok1 || !ok2 {
		return
	}
	n := length(rl)
	if _, acc := l.(traits.MutableLister); !acc {
		n += length(ll)
	}
	if n >= walkUnit {
		meterOf(vars).spend(n / walkUnit)
	}
}

// chargeMatch charges what matching s with the pattern p costs: compiling a
// program of size instructions, and running it over each byte of s (RE2's
// work is linear in each, so at most their product). size < 0 means p is
// to be sized now.
func chargeMatch(vars interpreter.Activation, s, p ref.Val, size int64) {
	str, ok := s.(types.String)
	if !ok {
		return
	}
	if size < 0 {
		pat, ok := p.(types.String)
		if !ok {
			return
		}
		size = regexSize(string(pat))
	}
	// Both factors are bounded (Go refuses programs over a few million
	// instructions; the meter, strings over 16 * MeterLimit bytes), so the
	// product fits.
	meterOf(vars).spend(int(size * (int64(len(str)) + regexUnit) / regexUnit))
}

// walkLimit is how many elements the meter has left to walk.
func walkLimit(mt *meter) int {
	return mt.left() * walkUnit
}

func isAggregate(v ref.Val) bool {
	switch v.(type) {
	case traits.Lister, traits.Mapper, *types.Optional:
		return true
	}
	return false
}

func length(l traits.Sizer) int {
	n, _ := l.Size().(types.Int)
	return int(n)
}

// nestedSize is the number of values v holds at every depth, itself
// included, a string counting one for each walkUnit bytes: a walk over all
// of v visits that many. cel-go's SizeCalculator counts them, and remembers
// the size of each list and map it finished counting (a list shared a
// thousand times over is counted once). Those counts are exact whatever the
// traversal limit, the only setting that differs between the calculators
// made here; a count stopped at the limit is not remembered. ok is false
// when the size passes limit, having visited at most limit+1 values.
func nestedSize(v ref.Val, limit int) (n int, ok bool) {
	switch x := v.(type) {
	case types.String:
		n = max(1, (len(x)+walkUnit-1)/walkUnit)
	case types.Bytes:
		n = max(1, (len(x)+walkUnit-1)/walkUnit)
	case traits.Lister, traits.Mapper, *types.Optional:
		if limit < 1 {
			return 0, false
		}
		calc := types.NewSizeCalculator(
			types.SizeCalculatorMaxDepth(math.MaxInt),
			types.SizeCalculatorMaxTraversal(limit),
			types.SizeCalculatorStringUnitLength(walkUnit))
		e := calc.EstimateAggregateSize(v)
		if e.LimitExceeded {
			return 0, false
		}
		n = int(e.Size) // saturates at math.MaxUint32, over any limit
	default:
		n = 1
	}
	return n, n <= limit
}

// smallerSize is the smaller of the nested sizes of a and b, or false when
// both pass limit. It counts both a little at a time, the limit growing
// eightfold each round, so that the counting is in proportion to the
// smaller even when the other is huge.
func smallerSize(a, b ref.Val, limit int) (int, bool) {
	for c := 64; ; c *= 8 {
		c = min(c, limit)
		na, okA := nestedSize(a, c)
		nb, okB := nestedSize(b, c)
		switch {
		case okA && okB:
			return min(na, nb), true
		case okA:
			return na, true
		case okB:
			return nb, true
		case c >= limit:
			return 0, false
		}
	}
}

// regexSize is the size of the program RE2 compiles pattern to, as Go's
// regexp/syntax estimates it to bound compilation (parse.go's calcSize),
// from the parsed pattern: no more work than parsing, where compiling
// a large program takes seconds. An invalid pattern is 0: CEL's call
// reports it.
func regexSize(pattern string) int64 {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0
	}
	return 2 + progSize(re) // and the program's fail and match instructions
}

func progSize(re *syntax.Regexp) int64 {
	var size int64
	switch re.Op {
	case syntax.OpLiteral:
		size = int64(len(re.Rune))
	case syntax.OpCapture, syntax.OpStar:
		size = 2 + progSize(re.Sub[0])
	case syntax.OpPlus, syntax.OpQuest:
		size = 1 + progSize(re.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		for _, sub := range re.Sub {
			size += progSize(sub)
		}
		if re.Op == syntax.OpAlternate && len(re.Sub) > 1 {
			size += int64(len(re.Sub)) - 1
		}
	case syntax.OpRepeat:
		sub := progSize(re.Sub[0])
		switch {
		case re.Max == -1 && re.Min == 0:
			size = 2 + sub
		case re.Max == -1:
			size = 1 + int64(re.Min)*sub
		default:
			size = int64(re.Max)*sub + int64(re.Max-re.Min)
		}
	}
	return max(1, size)
}
