package oauth2kit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/internal/jsonvalue"
)

// ResponseFormat is how a token endpoint encodes its answer.
type ResponseFormat string

// The token response formats.
const (
	// FormatAuto decides by the answer's Content-Type.
	FormatAuto ResponseFormat = ""
	// FormatJSON is RFC 6749 section 5.1's application/json.
	FormatJSON ResponseFormat = "json"
	// FormatForm is application/x-www-form-urlencoded, as GitHub answers by default.
	FormatForm ResponseFormat = "form"
)

// GrantType is the grant a token request uses. It decides what an invalid_grant
// error means.
type GrantType string

// The grants this package sends.
const (
	GrantAuthorizationCode GrantType = "authorization_code"
	GrantRefreshToken      GrantType = "refresh_token"
)

// TokenResponse is a token endpoint's answer, as received.
type TokenResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// ParseTokenResponse reads a token endpoint's answer. It returns the token, or an
// *sdk.Error: the provider's RFC 6749 section 5.2 error (kept whole in Details, and
// recognized in a 2xx answer too, as GitHub sends it), or an invalid_response when
// the answer cannot be read.
//
// It accepts what real providers send besides RFC 6749: expires_in as a string,
// scope as an array, no token_type (meaning Bearer).
func ParseTokenResponse(r TokenResponse, format ResponseFormat, grant GrantType) (*Token, error) {
	header := r.Header
	if header == nil {
		header = http.Header{}
	}
	return parseTokenAnswer(&response{status: r.Status, header: header, contentType: header.Get("Content-Type"), body: r.Body}, format, grant)
}

func parseTokenAnswer(r *response, format ResponseFormat, grant GrantType) (*Token, error) {
	used := format
	if used == FormatAuto {
		used = sniffFormat(r.contentType, r.body)
	}
	fields, err := decodeTokenFields(r.body, used)
	if failed := r.status < 200 || r.status >= 300; failed && (err != nil || textOf(fields["error"]) == "") {
		// An error answer's Content-Type is often not its body's (a framework's
		// default: JSON labelled form, or the reverse), nor the format forced
		// for tokens: the provider's error is read from what the body is. Only
		// a body that is not JSON is read as a form, so that no error is found
		// inside a JSON string ({"message":"a&error=b"}).
		actual := FormatForm
		if json.Valid(r.body) {
			actual = FormatJSON
		}
		if actual != used {
			if other, otherErr := decodeTokenFields(r.body, actual); otherErr == nil && textOf(other["error"]) != "" {
				fields, err = other, nil
			}
		}
	}
	if err != nil {
		return nil, unreadableTokenAnswer(r, used, format != FormatAuto, err)
	}
	if oe, failed := tokenErrorOf(r, fields); failed {
		if oe.code == "" && r.status != http.StatusUnauthorized {
			return nil, unexpectedAnswer("token endpoint", r, "without an OAuth 2.0 error code")
		}
		return nil, tokenEndpointError(oe, grant)
	}
	return tokenOf(fields)
}

// sniffFormat follows the Content-Type, and looks at the body only when the type
// says nothing useful (absent, or text/plain, which some providers use for both).
func sniffFormat(contentType string, body []byte) ResponseFormat {
	media, _, _ := mime.ParseMediaType(contentType)
	switch {
	case media == "application/x-www-form-urlencoded":
		return FormatForm
	case media == "" || media == "text/plain":
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			return FormatJSON
		}
		return FormatForm
	default:
		return FormatJSON
	}
}

// decodeTokenFields reads the answer into its top-level fields. JSON values keep
// their JSON types (numbers as json.Number); form values are strings.
func decodeTokenFields(body []byte, format ResponseFormat) (map[string]any, error) {
	if format == FormatForm {
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		fields := make(map[string]any, len(values))
		for k := range values {
			fields[k] = values.Get(k)
		}
		return fields, nil
	}
	// The body is one JSON value (RFC 8259), as userinfo's must be: what
	// follows it would be a second answer, read by no one or by someone else.
	v, err := jsonvalue.Decode(body)
	if err != nil {
		return nil, err
	}
	fields, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("found %s", jsonKind(v))
	}
	return fields, nil
}

func unreadableTokenAnswer(r *response, used ResponseFormat, forced bool, err error) *sdk.Error {
	what := "a body that is not a JSON object"
	if used == FormatForm {
		what = "a body that is not form-encoded"
	}
	if r.status < 200 || r.status >= 300 {
		return unexpectedAnswer("token endpoint", r, "with "+what)
	}
	e := unexpectedAnswer("token endpoint", r, fmt.Sprintf("with %s (%v)", what, err))
	if forced {
		e.Message += "; tokenEndpointResponseType forces this format: remove it to follow the Content-Type"
	}
	return e
}

// tokenErrorOf finds an RFC 6749 section 5.2 error: a non-2xx status, or an "error"
// field in any answer.
func tokenErrorOf(r *response, fields map[string]any) (oauthError, bool) {
	code := textOf(fields["error"])
	if code == "" && r.status >= 200 && r.status < 300 {
		return oauthError{}, false
	}
	return oauthError{
		status:      r.status,
		code:        r.text(code),
		description: r.text(textOf(fields["error_description"])),
		uri:         r.text(textOf(fields["error_uri"])),
	}, true
}

// tokenOf reads a successful answer. Only access_token is strict; a malformed
// optional field is dropped rather than failing a sign-in over it.
func tokenOf(fields map[string]any) (*Token, error) {
	access, ok := fields["access_token"].(string)
	if !ok || access == "" {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the token endpoint's answer has no access_token")
	}
	t := &Token{AccessToken: access}
	if v, ok := fields["token_type"]; ok && v != nil {
		// Unlike the other fields, a token_type that cannot be read is not
		// dropped: dropped, it would mean Bearer, and a token of a type the
		// client does not understand must not be used (RFC 6749 7.1).
		if t.TokenType, ok = v.(string); !ok {
			return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the token endpoint's token_type is %s, not a string: the token's type is unknown, and such a token must not be used (RFC 6749 7.1)", jsonKind(v)).
				WithDetail("tokenType", cleanText(textOf(v)))
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
		read func(any) (string, bool)
	}{
		{"refresh_token", &t.RefreshToken, stringField},
		{"id_token", &t.IDToken, stringField},
		{"scope", &t.Scope, scopeOf},
	} {
		v, ok := fields[f.name]
		if !ok || v == nil {
			continue
		}
		if *f.dst, ok = f.read(v); !ok {
			t.Dropped = append(t.Dropped, f.name)
		}
	}
	if v, ok := fields["expires_in"]; ok && v != nil {
		if t.ExpiresIn, ok = expiresInOf(v); !ok {
			t.Dropped = append(t.Dropped, "expires_in")
		}
	}
	switch {
	case t.TokenType == "": // absent (or null, or empty): RFC 6749 requires it, providers leave it out
		t.TokenType = "Bearer"
	case !strings.EqualFold(t.TokenType, "Bearer"):
		// RFC 6749 7.1: a client must not use a token of a type it does not
		// understand. Sent as a bearer token, a MAC or DPoP-bound one fails, or
		// works where its binding was the point.
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the token endpoint issued a token of type %q; only Bearer tokens can be used (RFC 6750)", cleanText(t.TokenType)).
			WithDetail("tokenType", cleanText(t.TokenType))
	}
	return t, nil
}

// stringField reads a string field; another type is malformed.
func stringField(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// scopeOf accepts RFC 6749's space-separated string and the array some providers send.
func scopeOf(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			if s, ok := p.(string); ok && s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " "), true
	}
	return "", false
}

// maxExpiresIn keeps a silly expires_in from overflowing a time.Duration.
const maxExpiresIn = math.MaxInt32

// decimalNumber is a number as JSON writes it, with a leading + or a bare
// fraction (".5", "5.") allowed for the numeric strings providers send.
var decimalNumber = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// expiresInOf accepts a number or a numeric string; a value that is not positive
// means "not said". Anything else is malformed (ok false).
func expiresInOf(v any) (time.Duration, bool) {
	var text string
	switch v := v.(type) {
	case json.Number:
		text = v.String()
	case string:
		text = strings.TrimSpace(v)
	default:
		return 0, false
	}
	if !decimalNumber.MatchString(text) {
		// ParseFloat also reads "Infinity", "NaN" and hex floats ("0x1p30"),
		// which no provider means as a lifetime.
		return 0, false
	}
	secs, err := strconv.ParseFloat(text, 64)
	switch {
	case err != nil || math.IsNaN(secs):
		return 0, false
	case secs <= 0:
		return 0, true
	}
	return time.Duration(math.Min(math.Floor(secs), maxExpiresIn)) * time.Second, true
}
