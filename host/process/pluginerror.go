package process

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/idplug/idplug/internal/printable"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"google.golang.org/grpc/status"
)

// A plugin's error goes on to the API's answers, the error pages and the
// host's own log lines, which the plugin's log rate does not bound: what the
// plugin says is held to sizes a person reads, whatever the 4 MiB reply limit
// lets through. The SDK's connectors already cut a provider's text to 300
// characters; this is the host's own guard against a plugin that does not.
const (
	maxErrorMessage = 1024    // bytes of the message
	maxErrorDetails = 4 << 10 // bytes of the details' JSON; over it they are left out
)

// errorCode is the shape of every code in the vocabulary, Logto's included.
var errorCode = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// pluginError is the connector error a plugin sent, within bounds: a code of
// another shape, or one of the host's own (hostCode), becomes general; the
// message is cut to valid UTF-8.
func pluginError(d *connectorv1.ConnectorError) *sdk.Error {
	if len(d.GetDetailsJson()) > maxErrorDetails {
		d.DetailsJson = nil
	}
	e := sdk.Wire.ErrorFromProto(d)
	if !errorCode.MatchString(string(e.Code)) || hostCode(e.Code) {
		e.Code = sdk.CodeGeneral
	}
	e.Message = boundText(e.Message)
	return e
}

// maxConfigProblems bounds how many of a configuration's problems are kept:
// more only repeat themselves to the operator.
const maxConfigProblems = 64

// configProblems are a plugin's problems with a configuration, within bounds.
func configProblems(errs []*connectorv1.FieldError) []sdk.FieldError {
	var out []sdk.FieldError
	for i, f := range errs {
		if i == maxConfigProblems {
			out = append(out, sdk.FieldError{Message: fmt.Sprintf("and %d more problems", len(errs)-i)})
			break
		}
		field := f.GetField()
		if len(field) > 128 { // a field's path in the configuration
			field = field[:128]
		}
		out = append(out, sdk.FieldError{Field: strings.ToValidUTF8(field, "\uFFFD"), Message: boundText(f.GetMessage())})
	}
	return out
}

// callFailed is a failed call that carried no connector error.
func callFailed(st *status.Status) *sdk.Error {
	return &sdk.Error{Code: sdk.CodeGeneral, Message: boundText(fmt.Sprintf("plugin call failed: %s: %s", st.Code(), st.Message()))}
}

// boundText makes s valid UTF-8 and cuts it to maxErrorMessage bytes, on a
// character's boundary, saying how much was left out.
func boundText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxErrorMessage {
		return s
	}
	head := printable.Cut(s, maxErrorMessage)
	return head + fmt.Sprintf("... (%d more bytes)", len(s)-len(head))
}
