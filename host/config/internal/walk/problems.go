package walk

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a document. It has the same fields as
// config.Problem, which converts from it.
type Problem struct {
	// Field is the path of the offending value, such as "connectors[1].id";
	// empty when the problem concerns the whole document.
	Field string `json:"field,omitempty"`
	// Message says what is wrong, without repeating secret values.
	Message string `json:"message"`
	// Line is the 1-based line of the value, or 0 when there is no single
	// place to point at (a required key that is missing).
	Line int `json:"line,omitempty"`
}

// Error lists the problems found in a document. Callers name the file
// themselves when they report it.
type Error struct {
	Problems []Problem
}

// Error prints one problem per line, like "line 12: connectors[1].id: ...".
func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		var b strings.Builder
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
		lines = append(lines, b.String())
	}
	if len(lines) == 0 {
		return "invalid document"
	}
	return strings.Join(lines, "\n")
}

// MaxProblems bounds the problems listed; past it they are only counted.
const MaxProblems = 100

// Pos is a place in the file; the zero Pos means "no single place".
type Pos struct{ Line, Col int }

// PosOf returns where node n is written.
func PosOf(n *yaml.Node) Pos { return Pos{n.Line, n.Column} }

// Problems collects problems while a document is decoded. The zero value is
// ready to use.
type Problems struct {
	list []located
	more int // problems past MaxProblems
	// failed holds fields recorded with AddFailed (a value that could not be
	// read at all): any later problem with them would only be a consequence
	// of the first one.
	failed map[string]bool
	// stopped is set by Stop.
	stopped bool
	// replaced are the values references were replaced with (see Replaced),
	// longest first once sorted is set.
	replaced []replacement
	sorted   bool
}

// replacement is a value a reference was replaced with, and what was written.
type replacement struct{ value, quoted, written string }

// minHidden is the shortest replaced value hidden in messages: a shorter one
// is no secret worth the garbling of every message that holds its text.
const minHidden = 6

// Replaced records that a value written as written (${file:key}, ${TOKEN})
// reads as value: a problem's message then quotes what was written, never
// the value, which may be a secret put in the wrong setting.
func (ps *Problems) Replaced(value, written string) {
	if len(value) < minHidden || value == written {
		return
	}
	q := strconv.Quote(value)
	ps.replaced = append(ps.replaced, replacement{value, q[1 : len(q)-1], written})
	ps.sorted = false
}

// hide puts back what was written for every replaced value in message.
func (ps *Problems) hide(message string) string {
	if !ps.sorted {
		// Longest first, so that a value holding another is hidden whole.
		slices.SortStableFunc(ps.replaced, func(a, b replacement) int { return cmp.Compare(len(b.value), len(a.value)) })
		ps.sorted = true
	}
	for _, r := range ps.replaced {
		message = strings.ReplaceAll(message, r.value, r.written)
		if r.quoted != r.value {
			message = strings.ReplaceAll(message, r.quoted, r.written)
		}
	}
	return message
}

// located keeps the column of a problem to order problems on one line.
type located struct {
	Problem
	col int
}

// Add records a problem with the value at field, found at p.
func (ps *Problems) Add(field *Path, p Pos, format string, args ...any) {
	ps.record(field, p, false, format, args...)
}

// addFailed records a problem and silences any later one for the same field.
func (ps *Problems) AddFailed(field *Path, p Pos, format string, args ...any) {
	ps.record(field, p, true, format, args...)
}

// Stop records nothing more: used after a problem that leaves the rest of the
// document unread, so that its consequences do not bury it.
func (ps *Problems) Stop() { ps.stopped = true }

func (ps *Problems) record(field *Path, p Pos, failed bool, format string, args ...any) {
	if ps.stopped {
		return
	}
	if len(ps.list) >= MaxProblems {
		ps.more++
		return
	}
	name := field.String()
	if ps.failed[name] {
		return
	}
	if failed {
		if ps.failed == nil {
			ps.failed = map[string]bool{}
		}
		ps.failed[name] = true
	}
	ps.list = append(ps.list, located{Problem{Field: name, Message: ps.hide(fmt.Sprintf(format, args...)), Line: p.Line}, p.Col})
}

// Err returns the collected problems in file order (problems without a place
// first, as they concern the file as a whole), or nil when there are none.
func (ps *Problems) Err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := slices.Clone(ps.list)
	slices.SortStableFunc(list, func(a, b located) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.col, b.col))
	})
	out := make([]Problem, len(list), len(list)+1)
	for i, l := range list {
		out[i] = l.Problem
	}
	if ps.more > 0 {
		out = append(out, Problem{Message: fmt.Sprintf("and %d more problems", ps.more)})
	}
	return &Error{Problems: out}
}
