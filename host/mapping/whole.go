package mapping

import (
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/checker"
	"github.com/idplug/idplug/sdk"
)

// wholeEnv compiles a mapping's expressions joined into one (see
// compileWhole): each was checked against env's limits on its own, and the
// join adds a few levels of nesting and the bytes that join them.
var wholeEnv = sync.OnceValues(func() (*cel.Env, error) {
	return newEnv(maxParseDepth+4, maxWholeLen)
})

// maxWholeLen bounds the source of a whole mapping: every expression at its
// limit, each wrapped in "(\n", "\n)" and a comma, and the allow rule's join.
// (5 is len(ProfileFields).)
const maxWholeLen = (5+MaxClaims+1)*(MaxExpressionLen+8) + 64

// compileWhole joins a mapping's expressions, each already compiled and
// checked on its own, into one program that yields them all at once:
//
//	allow ? [field, ..., claim, ...] : dyn(false)
//
// (without allow, just the list), in the order of m.all(). One evaluation,
// one cost tracker and one activation then serve a whole sign-in instead of
// one for each expression, which is most of a small expression's cost. Its
// cost limit is CostLimit, for all the expressions together: when it
// succeeds, each expression cost less than its own limit and yields what it
// would have on its own; when it fails (an error, or over the limit), Apply
// runs the expressions one by one, under their own limits, to name the one at
// fault. Should the join not compile, m.whole stays nil and Apply always
// goes one by one.
func compileWhole(m *Mapping) {
	var b strings.Builder
	list := m.fields
	list = append(list[:len(list):len(list)], m.claims...)
	if m.allow != nil {
		b.WriteString("(\n" + m.allow.src + "\n) ? ")
	}
	b.WriteString("[")
	for i, p := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		// The newlines end a trailing // comment of the expression.
		b.WriteString("(\n" + p.src + "\n)")
	}
	b.WriteString("]")
	if m.allow != nil {
		b.WriteString(" : dyn(false)") // the branches' types must agree
	}
	e, err := wholeEnv()
	if err != nil {
		return
	}
	checked, iss := e.Compile(b.String())
	if iss.Err() != nil {
		return
	}
	if m.whole, err = newProgram(e, checked); err != nil {
		m.whole = nil
		return
	}
	m.untrackedUpTo = untrackedBound(e, checked)
	if m.untrackedUpTo > 0 {
		if m.untracked, err = e.Program(checked, cel.CustomDecoratorV2(metered)); err != nil {
			m.untracked, m.untrackedUpTo = nil, 0
		}
	}
}

// CEL's cost tracker is most of the cost of evaluating a small mapping: it
// observes every step. But what a mapping costs is bounded by the size of its
// input: no string, list or map it reads from profile or raw is larger than
// the profile's and the raw data's bytes. CEL's cost estimator (the one
// Kubernetes relies on to bound CEL ahead of time) gives the most an
// expression can cost when its inputs are at most a given size; for inputs
// up to the largest size at which that stays under CostLimit, the tracker
// could never stop the evaluation, and the mapping runs without it (still
// under the meter and the deadline). Larger inputs run tracked.

// untrackedBound is the largest input size, as sizeEstimator counts it, at
// which the whole mapping's estimated cost stays within CostLimit; 0 when
// even the smallest inputs might not.
func untrackedBound(e *cel.Env, checked *cel.Ast) int {
	best := 0
	for size := 256; size <= MaxUntrackedInput; size *= 2 {
		est, err := e.EstimateCost(checked, sizeEstimator(size))
		if err != nil || est.Max > CostLimit {
			break
		}
		best = size
	}
	return best
}

// MaxUntrackedInput bounds the inputs a mapping may run untracked for.
const MaxUntrackedInput = 1 << 20

// sizeEstimator tells CEL's estimator that every value whose size it does not
// know (those read from profile and raw, and what functions return) has at
// most that many elements or characters.
type sizeEstimator int

func (s sizeEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate {
	return &checker.SizeEstimate{Min: 0, Max: uint64(s)}
}

func (s sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// inputSize is what sizeEstimator's bound must cover for u: twice its bytes
// (a number read from raw may print longer than it is written: 1e300 is
// 1e+300), and some more.
func inputSize(u sdk.UserInfo) int {
	n := len(u.RawData) + len(u.ID)
	for _, f := range []*string{u.Name, u.Avatar, u.Email, u.Phone} {
		if f != nil {
			n += len(*f)
		}
	}
	return 2*n + 64
}
