package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/idplug/idplug/internal/jsonwords"
	"github.com/idplug/idplug/sdk"
)

// Request bodies and sealed payloads are decoded with the JSON engine that
// became encoding/json/v2: on the sign-in path it takes about half of
// encoding/json's time (BENCHMARKS.md, "JSON decoding on the sign-in path").
// Responses and seals are still written by encoding/json, whose output the v2
// engine would change (omitempty, nil slices).

// requestOptions accept what encoding/json accepted, but for two things it let
// through and shouldn't have: a name given twice (which one counts is a guess
// two parsers may make differently) and invalid UTF-8.
var requestOptions = jsonv2.JoinOptions(
	jsonv2.RejectUnknownMembers(true),
	// encoding/json matched field names without regard to case, and a client
	// may rely on it; it never ignored '_' and '-', which the v2 engine does
	// unless told not to ("redirect_uri" is not "redirectUri").
	jsonv2.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true),
)

// sealedOptions read what this process's encoding/json wrote and sealed: a
// provider's raw profile inside it may hold a name twice or invalid UTF-8, which
// encoding/json kept, and must not make the seal unreadable.
var sealedOptions = jsonv2.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// readJSON decodes a size-capped JSON body holding one object, refusing unknown
// fields.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if err := jsonv2.Unmarshal(body, v, requestOptions); err != nil {
		return bodyError(body, v, err)
	}
	return nil
}

// readBody reads a request's body up to the configured size.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.settings.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &sdk.Error{Code: CodeRequestTooLarge, Message: fmt.Sprintf("the request body is over %d bytes", s.settings.MaxBodyBytes)}
	case err != nil:
		return nil, badRequest("the request body could not be read: %v", err)
	}
	return body, nil
}

// bodyError says what is wrong with a body the decoder refused. encoding/json's
// words name the field and the kind of mistake as clients have always read them,
// so it decodes the refused body again (only refused bodies pay for that) to
// find them; what only the v2 engine refuses gets its own words.
func bodyError(body []byte, v any, err error) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	v1err := dec.Decode(reflect.New(reflect.TypeOf(v).Elem()).Interface())
	switch {
	case errors.Is(v1err, io.EOF):
		return badRequest("the request body must be a JSON object")
	case v1err != nil:
		return badRequest("the request body is not valid: %s", jsonProblem(v1err))
	case dec.More():
		return badRequest("the request body must hold one JSON object")
	}
	// The engine's own words name the value and where it is, for example
	// `duplicate object member name "code" within "/data"`.
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "jsontext: "), "json: ")
	return badRequest("the request body is not valid: %s", msg)
}

// decodeSealed decodes the payload of a seal this service made.
func decodeSealed(b []byte, v any) error {
	return jsonv2.Unmarshal(b, v, sealedOptions)
}

// jsonProblem says what encoding/json found wrong in a body in the API's
// terms (a field's name and JSON's kinds), not Go's (a struct's type name).
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	want, got := jsonwords.TypeError(te)
	if te.Field == "" {
		return "it must be a JSON object, not " + got
	}
	return te.Field + " must be " + want + ", not " + got
}
