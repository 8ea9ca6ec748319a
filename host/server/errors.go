package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// Codes the HTTP layer adds to the connector error codes.
const (
	CodeUnauthorized    sdk.ErrorCode = "unauthorized"
	CodeSessionInvalid  sdk.ErrorCode = "session_invalid"
	CodeSessionExpired  sdk.ErrorCode = "session_expired"
	CodeRequestTooLarge sdk.ErrorCode = "request_too_large"
	CodeNotFound        sdk.ErrorCode = "not_found"
	// CodeSessionUsed refuses a finished flow presented again.
	CodeSessionUsed sdk.ErrorCode = "session_used"
	// CodeStoreUnavailable fails a request closed when the store does not answer.
	CodeStoreUnavailable sdk.ErrorCode = "store_unavailable"
	// CodeMethodNotAllowed is a known route asked with another method (405, with Allow).
	CodeMethodNotAllowed sdk.ErrorCode = "method_not_allowed"
	// CodeTooManyAttempts refuses an address that sent too many wrong API keys (429).
	CodeTooManyAttempts sdk.ErrorCode = "too_many_attempts"
	// CodeCrossOrigin refuses a state-changing browser request from another site (403).
	CodeCrossOrigin sdk.ErrorCode = "cross_origin_request"
	// CodeForbidden refuses a valid API key asking outside its scopes or connectors (403).
	CodeForbidden sdk.ErrorCode = "forbidden"
)

// statusFor maps an error code to the HTTP status Logto uses for it.
func statusFor(code sdk.ErrorCode) int {
	switch code {
	case sdk.CodeInvalidConfig, sdk.CodeInvalidMetadata, sdk.CodeInvalidRequestParameters,
		sdk.CodeInsufficientRequestParameters, sdk.CodeInvalidResponse, CodeSessionInvalid, CodeSessionExpired, CodeSessionUsed:
		return http.StatusBadRequest
	case sdk.CodeSocialAuthCodeInvalid, sdk.CodeSocialAccessTokenInvalid, sdk.CodeSocialIDTokenInvalid,
		sdk.CodeAuthorizationFailed, CodeUnauthorized:
		return http.StatusUnauthorized
	case host.CodeInstanceNotFound, CodeNotFound:
		return http.StatusNotFound
	case CodeRequestTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeCrossOrigin, CodeForbidden:
		return http.StatusForbidden
	case sdk.CodeRateLimitExceeded, CodeTooManyAttempts:
		return http.StatusTooManyRequests
	case sdk.CodeNotImplemented:
		return http.StatusNotImplemented
	case sdk.CodeProviderUnavailable:
		return http.StatusBadGateway
	case host.CodePluginUnavailable, host.CodePluginOverloaded, CodeStoreUnavailable:
		return http.StatusServiceUnavailable
	case sdk.CodeProviderTimeout, host.CodePluginTimeout:
		return http.StatusGatewayTimeout
	case host.CodeMappingFailed:
		// The operator's mapping cannot map this profile: the host's fault.
		return http.StatusInternalServerError
	default:
		return http.StatusInternalServerError
	}
}

type errorBody struct {
	Code    sdk.ErrorCode  `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

func writeError(w http.ResponseWriter, _ *http.Request, err error) {
	e := asError(err)
	status := statusFor(e.Code)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Code: e.Code, Message: e.Message, Details: e.Details})
}

func asError(err error) *sdk.Error {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e
	}
	return &sdk.Error{Code: sdk.CodeGeneral, Message: err.Error()}
}

func errNotFound(msg string) error { return &sdk.Error{Code: CodeNotFound, Message: msg} }

func badRequest(format string, args ...any) error {
	return sdk.Errorf(sdk.CodeInvalidRequestParameters, format, args...)
}

// writeJSON encodes v before anything is written: an answer that cannot be
// encoded (a plugin's value that is no JSON) is a 500 that says so, not a 200
// with an empty body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errorBody{Code: sdk.CodeGeneral, Message: "the answer cannot be written as JSON: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
