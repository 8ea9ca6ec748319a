package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/printable"
)

// A plugin's metadata (id, name, description, readme, form items, egress
// hosts), the problems it finds in a configuration and the reasons a plugin
// was refused are text a third party wrote, and the commands print them to the
// operator's terminal: an escape sequence in them could set the clipboard the
// operator pastes next (OSC 52), clear the screen or retitle the window, and a
// line break could forge a line of the listing ("Refused: ..."). Everything a
// plugin wrote goes through termLine, or termBlock for a readme, which show
// control characters escaped (\x1b, \n). The JSON output (--json) is for
// programs and stays as the plugin sent it.

// termLine is one line of a plugin's text for the terminal: control characters,
// line breaks and tabs (the listing's column separator) escaped.
func termLine(s string) string { return printable.Line(s) }

// termBlock is a plugin's text of several lines (a readme): its line breaks and
// tabs kept, every other control character escaped.
func termBlock(s string) string { return printable.Block(s) }

// printError prints err, which may hold a plugin's text: a configuration's
// problems one a line, each escaped; any other error with its line breaks.
func printError(w io.Writer, err error) {
	var ve *host.ValidationError
	if errors.As(err, &ve) && error(ve) == err {
		clean := &host.ValidationError{Problems: make([]host.Problem, len(ve.Problems))}
		for i, p := range ve.Problems {
			p.Instance, p.Field, p.Message, p.File = termLine(p.Instance), termLine(p.Field), termLine(p.Message), termLine(p.File)
			clean.Problems[i] = p
		}
		err = clean
	}
	fmt.Fprintln(w, termBlock(err.Error()))
}

// printJSON writes v as indented JSON, with the controls encoding/json leaves
// raw (C1, the bidirectional ones) escaped: a plugin's text in --json output
// reaches a terminal too.
func printJSON(w io.Writer, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintln(w, err)
		return
	}
	_, _ = w.Write(append(printable.JSON(b), '\n'))
}
