package config

import (
	"fmt"
	"strings"

	"github.com/idplug/idplug/host/config/internal/walk"
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

// ProblemDetails is the problems as an API answer's details list them.
func (e *Error) ProblemDetails() any { return e.Problems }

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

// fromWalk turns the walker's problems into an *Error; other errors pass
// through unchanged.
func fromWalk(err error) error {
	we, ok := err.(*walk.Error)
	if !ok {
		return err
	}
	out := make([]Problem, len(we.Problems))
	for i, p := range we.Problems {
		out[i] = Problem(p)
	}
	return &Error{Problems: out}
}
