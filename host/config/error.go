package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
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

// problems collects Problems while a file is decoded.
type problems struct {
	list []Problem
	// failed holds fields whose value could not be interpolated: any later
	// problem with them would only be a consequence of the first one.
	failed map[string]bool
}

func (ps *problems) add(field string, line int, format string, args ...any) {
	if ps.failed[field] {
		return
	}
	ps.list = append(ps.list, Problem{Field: field, Message: fmt.Sprintf(format, args...), Line: line})
}

// addFailed records a problem and silences any later one for the same field.
func (ps *problems) addFailed(field string, line int, format string, args ...any) {
	ps.add(field, line, format, args...)
	if ps.failed == nil {
		ps.failed = map[string]bool{}
	}
	ps.failed[field] = true
}

// err returns the collected problems ordered by line (problems without a line
// first, as they concern the file as a whole), or nil when there are none.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := slices.Clone(ps.list)
	slices.SortStableFunc(list, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return &Error{Problems: list}
}
