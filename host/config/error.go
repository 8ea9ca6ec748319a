package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one reason a configuration file was refused.
type Problem struct {
	// Field is the path of the offending value, such as "connectors[1].id" or
	// "session_keys[0]"; empty when the problem concerns the whole file.
	Field string `json:"field,omitempty"`
	// Message says what is wrong, without repeating secret values.
	Message string `json:"message"`
	// Line is the 1-based line of the value in the file, or 0 when there is no
	// single place to point at (a required key that is missing).
	Line int `json:"line,omitempty"`
}

// Error lists every problem found in a configuration file, so that an operator
// can fix them all in one go instead of one per run.
type Error struct {
	// File names the file in messages; "idplug.yaml" when empty.
	File     string
	Problems []Problem
}

// Error prints one problem per line, like "idplug.yaml:12: connectors[1].id: ...".
func (e *Error) Error() string {
	file := e.File
	if file == "" {
		file = "idplug.yaml"
	}
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		var b strings.Builder
		b.WriteString(file)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
		lines = append(lines, b.String())
	}
	if len(lines) == 0 {
		return file + ": invalid configuration"
	}
	return strings.Join(lines, "\n")
}

// maxProblems bounds the problems listed; past it they are only counted.
const maxProblems = 100

// pos is a place in the file; the zero pos means "no single place".
type pos struct{ line, col int }

func posOf(n *yaml.Node) pos { return pos{n.Line, n.Column} }

// problems collects Problems while a file is decoded.
type problems struct {
	list []located
	more int // problems past maxProblems
	// failed holds fields whose value could not be interpolated: any later
	// problem with them would only be a consequence of the first one.
	failed map[string]bool
}

// located keeps the column of a problem to order problems on one line.
type located struct {
	Problem
	col int
}

func (ps *problems) add(field *fieldPath, p pos, format string, args ...any) {
	ps.record(field, p, false, format, args...)
}

// addFailed records a problem and silences any later one for the same field.
func (ps *problems) addFailed(field *fieldPath, p pos, format string, args ...any) {
	ps.record(field, p, true, format, args...)
}

func (ps *problems) record(field *fieldPath, p pos, failed bool, format string, args ...any) {
	if len(ps.list) >= maxProblems {
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
	ps.list = append(ps.list, located{Problem{Field: name, Message: fmt.Sprintf(format, args...), Line: p.line}, p.col})
}

// err returns the collected problems in file order (problems without a place
// first, as they concern the file as a whole), or nil when there are none.
func (ps *problems) err() error {
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
