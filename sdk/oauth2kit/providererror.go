package oauth2kit

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/idplug/idplug/sdk"
)

// maxProviderText bounds how much of a provider's own text (error descriptions)
// goes into a message, so a chatty or hostile provider cannot flood the logs.
const maxProviderText = 300

// oauthError is an RFC 6749 section 5.2 error response, with the HTTP status it came with.
type oauthError struct {
	status      int
	code        string // "error"
	description string // "error_description"
	uri         string // "error_uri"
}

// details are the error's facts for sdk.Error.Details: everything the provider said.
func (e oauthError) details() map[string]any {
	d := map[string]any{"status": e.status}
	if e.code != "" {
		d["error"] = e.code
	}
	if e.description != "" {
		d["error_description"] = e.description
	}
	if e.uri != "" {
		d["error_uri"] = e.uri
	}
	return d
}

// summary reads like `HTTP 400 invalid_grant ("code expired")`.
func (e oauthError) summary() string {
	s := fmt.Sprintf("HTTP %d", e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.description != "" {
		s += fmt.Sprintf(" (%q)", e.description)
	}
	return s
}

// tokenErrorKinds says what each token endpoint error means to an operator. Codes a
// grant decides (invalid_grant) are handled in classifyTokenError.
var tokenErrorKinds = map[string]struct {
	code sdk.ErrorCode
	hint string
}{
	"invalid_client":               {sdk.CodeInvalidConfig, "check clientId, the client secret or private key, and tokenEndpointAuthMethod"},
	"unauthorized_client":          {sdk.CodeInvalidConfig, "the provider does not allow this client to use this grant"},
	"incorrect_client_credentials": {sdk.CodeInvalidConfig, "check clientId and clientSecret"},             // GitHub
	"redirect_uri_mismatch":        {sdk.CodeInvalidConfig, "register the callback URL with the provider"}, // GitHub
	"unsupported_grant_type":       {sdk.CodeInvalidConfig, "the provider does not support this grant for this client"},
	"invalid_scope":                {sdk.CodeInvalidConfig, "check scope"},
	"invalid_request":              {sdk.CodeInvalidRequestParameters, "the provider found the token request malformed; check customConfig and the provider's documentation"},
	"access_denied":                {sdk.CodeAuthorizationFailed, "the provider refused to issue a token"},
	"temporarily_unavailable":      {sdk.CodeProviderUnavailable, "try again later"},
	"server_error":                 {sdk.CodeProviderUnavailable, "try again later"},
	"slow_down":                    {sdk.CodeRateLimitExceeded, "try again later"},
}

// classifyTokenError maps a token endpoint error to a connector error code and a hint.
func classifyTokenError(e oauthError, grant GrantType) (sdk.ErrorCode, string) {
	kind := e.code
	if kind == "" && e.status == http.StatusUnauthorized {
		kind = "invalid_client" // RFC 6749 5.2 allows a bare 401 for it
	}
	switch kind {
	case "invalid_grant", "bad_verification_code": // the second one is GitHub's
		if grant == GrantRefreshToken {
			return sdk.CodeSocialAccessTokenInvalid, "the refresh token is expired or revoked; the user must sign in again"
		}
		return sdk.CodeSocialAuthCodeInvalid, "the authorization code is expired, already used, or was issued for another client, redirect URI or PKCE verifier"
	}
	if k, ok := tokenErrorKinds[kind]; ok {
		return k.code, k.hint
	}
	return statusCode(e.status), ""
}

// tokenEndpointError turns a token endpoint's error response into an *sdk.Error.
func tokenEndpointError(e oauthError, grant GrantType) *sdk.Error {
	code, hint := classifyTokenError(e, grant)
	msg := "the token endpoint answered " + e.summary()
	if hint != "" {
		msg += ": " + hint
	}
	return &sdk.Error{Code: code, Message: msg, Details: e.details()}
}

// statusCode maps an HTTP status that came without a usable OAuth error.
func statusCode(status int) sdk.ErrorCode {
	switch {
	case status == http.StatusTooManyRequests:
		return sdk.CodeRateLimitExceeded
	case status >= 500:
		return sdk.CodeProviderUnavailable
	case status >= 200 && status < 300:
		return sdk.CodeInvalidResponse
	default:
		return sdk.CodeGeneral
	}
}

// unexpectedAnswer reports an answer that is not what the protocol says it should
// be: a 5xx is an outage, a 429 a rate limit, anything else a bad response.
func unexpectedAnswer(what string, r *response, problem string) *sdk.Error {
	code := statusCode(r.status)
	if code == sdk.CodeGeneral {
		code = sdk.CodeInvalidResponse
	}
	e := sdk.Errorf(code, "the %s answered HTTP %d %s", what, r.status, problem).
		WithDetail("status", r.status)
	if r.contentType != "" {
		e.WithDetail("contentType", r.text(r.contentType))
	}
	if loc := r.header.Get("Location"); r.status >= 300 && r.status < 400 && loc != "" {
		e.Message += "; it redirects elsewhere, so configure the URL it redirects to"
		e.WithDetail("location", r.text(loc))
	}
	return e
}

// cleanText keeps provider text printable and short.
func cleanText(s string) string { return providerText(s, nil) }

// providerText makes a provider's text safe to repeat: the secrets the request
// sent are replaced, control characters blanked, and only then is it cut short.
// Cut first, and a secret straddling the cut would survive in part, out of
// reach of any later redaction.
func providerText(s string, secrets []string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, redactText(s, secrets))
	if r := []rune(s); len(r) > maxProviderText {
		s = string(r[:maxProviderText]) + "…"
	}
	return s
}
