package oauth2kit

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

const (
	jsonType = "application/json; charset=utf-8"
	formType = "application/x-www-form-urlencoded; charset=utf-8"
)

func parse(t *testing.T, status int, contentType, body string, format ResponseFormat) (*Token, error) {
	t.Helper()
	return ParseTokenResponse(TokenResponse{Status: status, Header: contentTypeHeader(contentType), Body: []byte(body)}, format, GrantAuthorizationCode)
}

func TestParseTokenResponseAccepts(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		format      ResponseFormat
		want        Token
	}{
		{
			name:        "RFC 6749 JSON",
			contentType: jsonType,
			body:        `{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","id_token":"it","scope":"openid email"}`,
			want:        Token{AccessToken: "at", TokenType: "Bearer", ExpiresIn: time.Hour, RefreshToken: "rt", IDToken: "it", Scope: "openid email"},
		},
		{
			name:        "GitHub form-encoded",
			contentType: formType,
			body:        "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cuser&token_type=bearer",
			want:        Token{AccessToken: "gho_16C7e42F292c6912E7710c838347Ae178B4a", TokenType: "bearer", Scope: "repo,user"},
		},
		{
			name:        "expires_in as a string",
			contentType: jsonType,
			body:        `{"access_token":"at","token_type":"Bearer","expires_in":"7200"}`,
			want:        Token{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 2 * time.Hour},
		},
		{
			name:        "scope as an array",
			contentType: jsonType,
			body:        `{"access_token":"at","token_type":"Bearer","scope":["read","write"]}`,
			want:        Token{AccessToken: "at", TokenType: "Bearer", Scope: "read write"},
		},
		{
			name:        "no token_type means Bearer",
			contentType: jsonType,
			body:        `{"access_token":"at"}`,
			want:        Token{AccessToken: "at", TokenType: "Bearer"},
		},
		{
			name:        "malformed optional fields are dropped",
			contentType: jsonType,
			body:        `{"access_token":"at","expires_in":"soon","scope":{"a":1},"refresh_token":5,"token_type":null}`,
			want:        Token{AccessToken: "at", TokenType: "Bearer", Dropped: []string{"refresh_token", "scope", "expires_in"}},
		},
		{
			name:        "JSON sent as text/plain",
			contentType: "text/plain",
			body:        ` {"access_token":"at","expires_in":60.9}`,
			want:        Token{AccessToken: "at", TokenType: "Bearer", ExpiresIn: time.Minute},
		},
		{
			name: "form with no Content-Type",
			body: "access_token=at&expires_in=10",
			want: Token{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 10 * time.Second},
		},
		{
			name:        "forced query-string over a wrong Content-Type",
			contentType: jsonType,
			body:        "access_token=at",
			format:      FormatForm,
			want:        Token{AccessToken: "at", TokenType: "Bearer"},
		},
		{
			name:        "forced json over a wrong Content-Type",
			contentType: "text/html",
			body:        `{"access_token":"at"}`,
			format:      FormatJSON,
			want:        Token{AccessToken: "at", TokenType: "Bearer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, 200, tt.contentType, tt.body, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("token = %+v\nwant    %+v", *got, tt.want)
			}
		})
	}
}

func TestParseTokenResponseKeepsRFC6749ErrorsWhole(t *testing.T) {
	body := `{"error":"invalid_grant","error_description":"grant request is invalid","error_uri":"https://id.example.com/errors#invalid_grant"}`
	_, err := parse(t, 400, jsonType, body, FormatAuto)
	e := wantCode(t, err, sdk.CodeSocialAuthCodeInvalid)
	want := map[string]any{
		"status":            400,
		"error":             "invalid_grant",
		"error_description": "grant request is invalid",
		"error_uri":         "https://id.example.com/errors#invalid_grant",
	}
	for k, v := range want {
		if e.Details[k] != v {
			t.Errorf("details[%s] = %v, want %v", k, e.Details[k], v)
		}
	}
	if !strings.Contains(e.Message, `HTTP 400 invalid_grant ("grant request is invalid")`) {
		t.Errorf("message = %q", e.Message)
	}
}

func TestParseTokenResponseErrorMapping(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		grant       GrantType
		format      ResponseFormat
		code        sdk.ErrorCode
		says        string
	}{
		{"invalid_grant on a code", 400, jsonType, `{"error":"invalid_grant"}`, GrantAuthorizationCode, "", sdk.CodeSocialAuthCodeInvalid, "authorization code"},
		{"invalid_grant on a refresh", 400, jsonType, `{"error":"invalid_grant"}`, GrantRefreshToken, "", sdk.CodeSocialAccessTokenInvalid, "sign in again"},
		{"GitHub's bad code in a 200", 200, formType, "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.", GrantAuthorizationCode, "", sdk.CodeSocialAuthCodeInvalid, "incorrect or expired"},
		{"invalid_client", 401, jsonType, `{"error":"invalid_client"}`, GrantAuthorizationCode, "", sdk.CodeInvalidConfig, "clientId"},
		{"unauthorized_client", 400, jsonType, `{"error":"unauthorized_client"}`, GrantAuthorizationCode, "", sdk.CodeInvalidConfig, "not allow"},
		{"invalid_scope", 400, jsonType, `{"error":"invalid_scope"}`, GrantAuthorizationCode, "", sdk.CodeInvalidConfig, "scope"},
		{"invalid_request", 400, jsonType, `{"error":"invalid_request"}`, GrantAuthorizationCode, "", sdk.CodeInvalidRequestParameters, "malformed"},
		{"server_error", 500, jsonType, `{"error":"server_error"}`, GrantAuthorizationCode, "", sdk.CodeProviderUnavailable, "server_error"},
		{"unknown error code", 400, jsonType, `{"error":"weird_thing"}`, GrantAuthorizationCode, "", sdk.CodeGeneral, "weird_thing"},
		{"unknown error code, 503", 503, jsonType, `{"error":"weird_thing"}`, GrantAuthorizationCode, "", sdk.CodeProviderUnavailable, "weird_thing"},
		{"error as an object", 400, jsonType, `{"error":{"message":"bad","code":190}}`, GrantAuthorizationCode, "", sdk.CodeGeneral, `"message":"bad"`},
		{"HTML error page", 400, "text/html", "<html><body>Bad Request</body></html>", GrantAuthorizationCode, "", sdk.CodeInvalidResponse, "not a JSON object"},
		{"HTML page with 200", 200, "text/html", "<html></html>", GrantAuthorizationCode, "", sdk.CodeInvalidResponse, "not a JSON object"},
		{"HTML outage page", 502, "text/html", "<html>Bad Gateway</html>", GrantAuthorizationCode, "", sdk.CodeProviderUnavailable, "HTTP 502"},
		{"rate limited", 429, "text/plain", "slow down", GrantAuthorizationCode, "", sdk.CodeRateLimitExceeded, "HTTP 429"},
		{"JSON array", 200, jsonType, `["access_token"]`, GrantAuthorizationCode, "", sdk.CodeInvalidResponse, "not a JSON object"},
		{"JSON null", 200, jsonType, `null`, GrantAuthorizationCode, "", sdk.CodeInvalidResponse, "not a JSON object"},
		{"no access_token", 200, jsonType, `{"token_type":"Bearer"}`, GrantAuthorizationCode, "", sdk.CodeInvalidResponse, "no access_token"},
		{"non-2xx without error", 400, jsonType, `{"message":"nope"}`, GrantAuthorizationCode, "", sdk.CodeInvalidResponse, "HTTP 400 without an OAuth 2.0 error code"},
		{"bare 401", 401, "", "", GrantAuthorizationCode, "", sdk.CodeInvalidConfig, "HTTP 401: check clientId"},
		{"forced json, form answer", 200, formType, "access_token=at", GrantAuthorizationCode, FormatJSON, sdk.CodeInvalidResponse, "tokenEndpointResponseType"},
		{"forced form, JSON answer", 200, jsonType, `{"access_token":"at"}`, GrantAuthorizationCode, FormatForm, sdk.CodeInvalidResponse, "no access_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTokenResponse(TokenResponse{Status: tt.status, Header: contentTypeHeader(tt.contentType), Body: []byte(tt.body)}, tt.format, tt.grant)
			e := wantCode(t, err, tt.code)
			if !strings.Contains(e.Message, tt.says) {
				t.Errorf("message %q does not say %q", e.Message, tt.says)
			}
			if e.Details["status"] != tt.status && tt.code != sdk.CodeInvalidResponse {
				t.Errorf("details = %v, want the status %d", e.Details, tt.status)
			}
		})
	}
}

// TestProviderErrorIsReadFromWhatTheBodyIs: on an error status, the RFC 6749
// 5.2 error is read from what the body is, whatever its Content-Type says or
// tokenEndpointResponseType forces: a framework's default type, or the form
// type of an endpoint that answers tokens as GitHub does, would lose it.
func TestProviderErrorIsReadFromWhatTheBodyIs(t *testing.T) {
	const asJSON = `{"error":"invalid_grant","error_description":"code expired","error_uri":"https://id.example.com/e"}`
	const asForm = `error=invalid_grant&error_description=code+expired&error_uri=https%3A%2F%2Fid.example.com%2Fe`
	for _, c := range []struct {
		name, contentType, body string
		format                  ResponseFormat
	}{
		{"JSON labelled form", formType, asJSON, FormatAuto},
		{"form labelled JSON", jsonType, asForm, FormatAuto},
		{"JSON, form forced", jsonType, asJSON, FormatForm},
		{"form, JSON forced", formType, asForm, FormatJSON},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(t, 400, c.contentType, c.body, c.format)
			e := wantCode(t, err, sdk.CodeSocialAuthCodeInvalid)
			for k, v := range map[string]any{"status": 400, "error": "invalid_grant", "error_description": "code expired", "error_uri": "https://id.example.com/e"} {
				if e.Details[k] != v {
					t.Errorf("details[%s] = %v, want %v", k, e.Details[k], v)
				}
			}
		})
	}
	// A JSON body is not read as a form: no error is made up from a string in it.
	_, err := parse(t, 400, jsonType, `{"message":"see a&error=invalid_grant"}`, FormatAuto)
	if e := wantCode(t, err, sdk.CodeInvalidResponse); e.Details["error"] != nil {
		t.Errorf("an error was read from inside a JSON string: %v", e.Details)
	}
}

// TestUnreadableTokenTypeFailsTheSignIn: RFC 6749 7.1, a client must not use a
// token of a type it does not understand. A token_type that is there but not a
// string says a type that cannot be read, so the token is not used; only one
// left out (or null) means Bearer.
func TestUnreadableTokenTypeFailsTheSignIn(t *testing.T) {
	for _, body := range []string{
		`{"access_token":"at","token_type":["DPoP"]}`,
		`{"access_token":"at","token_type":{"type":"DPoP"}}`,
		`{"access_token":"at","token_type":1}`,
		`{"access_token":"at","token_type":true}`,
	} {
		tok, err := parse(t, 200, jsonType, body, FormatAuto)
		if err == nil {
			t.Errorf("%s: accepted as token type %q", body, tok.TokenType)
			continue
		}
		if e := wantCode(t, err, sdk.CodeInvalidResponse); !strings.Contains(e.Message, "token_type") {
			t.Errorf("%s: message %q does not name token_type", body, e.Message)
		}
	}
	for _, body := range []string{`{"access_token":"at"}`, `{"access_token":"at","token_type":null}`} {
		if tok, err := parse(t, 200, jsonType, body, FormatAuto); err != nil || tok.TokenType != "Bearer" {
			t.Errorf("%s: token %+v, %v; want Bearer", body, tok, err)
		}
	}
}

// TestJSONTokenAnswerIsOneValue: the body is one JSON object (RFC 6749 5.1,
// RFC 8259). What follows it is refused, as for userinfo: a reader that takes
// the last value would see another token than this one.
func TestJSONTokenAnswerIsOneValue(t *testing.T) {
	for _, body := range []string{
		`{"access_token":"at"} {"access_token":"SECOND-TOKEN"}`,
		`{"access_token":"at"}TRAILING-DATA`,
		`{"access_token":"at"}}`,
	} {
		tok, err := parse(t, 200, jsonType, body, FormatAuto)
		if err == nil {
			t.Errorf("%s: accepted, access token %q", body, tok.AccessToken)
			continue
		}
		wantCode(t, err, sdk.CodeInvalidResponse)
		wantNoLeak(t, err, "SECOND-TOKEN", "TRAILING-DATA")
	}
	if _, err := parse(t, 200, jsonType, "\n {\"access_token\":\"at\"} \r\n", FormatAuto); err != nil {
		t.Errorf("white space around the object: %v", err)
	}
}

// TestExpiresInIsADecimalNumber: "Infinity", "NaN" and hex floats parse as
// floats in Go, and read as the longest lifetime (68 years); they are dropped
// like any expires_in that is no number.
func TestExpiresInIsADecimalNumber(t *testing.T) {
	for _, v := range []string{"Infinity", "-Infinity", "+Inf", "inf", "NaN", "0x1p30", "0X10", "1_000", "1e", ""} {
		tok, err := parse(t, 200, jsonType, `{"access_token":"at","expires_in":"`+v+`"}`, FormatAuto)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if tok.ExpiresIn != 0 || !reflect.DeepEqual(tok.Dropped, []string{"expires_in"}) {
			t.Errorf("expires_in %q read as %s (dropped %v), want it dropped", v, tok.ExpiresIn, tok.Dropped)
		}
	}
	for v, want := range map[string]time.Duration{"3600": time.Hour, " 60 ": time.Minute, "+60": time.Minute, "3.6e3": time.Hour, "60.": time.Minute, "-5": 0} {
		tok, err := parse(t, 200, formType, "access_token=at&expires_in="+url.QueryEscape(v), FormatAuto)
		if err != nil || tok.ExpiresIn != want || tok.Dropped != nil {
			t.Errorf("expires_in %q: %+v, %v; want %s", v, tok, err, want)
		}
	}
}

func TestParseTokenResponseNeverEchoesTheToken(t *testing.T) {
	// A 2xx that is not JSON may still carry a token: no part of the body goes out.
	_, err := parse(t, 200, jsonType, "access_token=SECRET-TOKEN-VALUE&x=<", FormatAuto)
	wantCode(t, err, sdk.CodeInvalidResponse)
	wantNoLeak(t, err, "SECRET-TOKEN-VALUE")
}

func TestProviderTextIsCleanedAndBounded(t *testing.T) {
	long := strings.Repeat("x", 1000)
	_, err := parse(t, 400, jsonType, `{"error":"invalid_request","error_description":"line1\nline2`+long+`"}`, FormatAuto)
	e := wantCode(t, err, sdk.CodeInvalidRequestParameters)
	d := e.Details["error_description"].(string)
	if strings.ContainsAny(d, "\n\r") || len([]rune(d)) > maxProviderText+1 {
		t.Errorf("error_description kept %d runes with control characters: %q", len(d), d[:40])
	}
}

func contentTypeHeader(contentType string) http.Header {
	if contentType == "" {
		return nil
	}
	return http.Header{"Content-Type": {contentType}}
}
