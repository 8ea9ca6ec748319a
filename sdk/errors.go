package sdk

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorCode names a kind of connector failure. The values are Logto's connector error
// codes, so an identity server can treat idplug connectors like Logto's own.
type ErrorCode string

// Logto's connector error codes.
const (
	CodeGeneral                       ErrorCode = "general"
	CodeInvalidMetadata               ErrorCode = "invalid_metadata"
	CodeInvalidConfig                 ErrorCode = "invalid_config"
	CodeInvalidRequestParameters      ErrorCode = "invalid_request_parameters"
	CodeInsufficientRequestParameters ErrorCode = "insufficient_request_parameters"
	CodeInvalidResponse               ErrorCode = "invalid_response"
	CodeNotImplemented                ErrorCode = "not_implemented"
	CodeRateLimitExceeded             ErrorCode = "rate_limit_exceeded"
	CodeSocialAuthCodeInvalid         ErrorCode = "social_auth_code_invalid"
	CodeSocialAccessTokenInvalid      ErrorCode = "social_invalid_access_token"
	CodeSocialIDTokenInvalid          ErrorCode = "social_invalid_id_token"
	CodeAuthorizationFailed           ErrorCode = "authorization_failed"
)

// Codes idplug adds for failures Logto's in-process connectors cannot have.
const (
	// CodeProviderUnavailable: the identity provider could not be reached or answered 5xx.
	CodeProviderUnavailable ErrorCode = "provider_unavailable"
	// CodeProviderTimeout: the identity provider did not answer before the deadline.
	CodeProviderTimeout ErrorCode = "provider_timeout"
)

// Error is a connector failure with a code, a message and safe details. Everything in
// it may be logged and shown to an operator: never put secrets, codes or tokens in it.
type Error struct {
	Code    ErrorCode
	Message string
	// Details are structured, JSON-encodable facts, such as the provider's
	// error and error_description, or the HTTP status it answered with.
	Details map[string]any
	// Cause is kept for errors.Is/As in the plugin; it does not cross the wire.
	Cause error
}

// Errorf returns an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// WithDetail returns e with one more detail set.
func (e *Error) WithDetail(key string, value any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
	return e
}

// WithCause returns e remembering the error that caused it.
func (e *Error) WithCause(err error) *Error {
	e.Cause = err
	return e
}

// AsError returns err as an *Error: itself when it is one (or wraps one), otherwise a
// general error carrying err's text.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return ce.asError()
	}
	return &Error{Code: CodeGeneral, Message: err.Error(), Cause: err}
}

// FieldError names one bad configuration field and says what is wrong with it.
type FieldError struct {
	// Field is a path into the configuration, such as "tokenEndpoint" or "profileMap.id".
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ConfigError lists every bad field of a configuration. ParseConfig returns it so that
// an operator sees all problems at once.
type ConfigError struct {
	Fields []FieldError
}

// Add records a bad field. A field already recorded keeps its first problem:
// a value of the wrong type is not also "required" because it decoded to
// nothing.
func (c *ConfigError) Add(field, format string, args ...any) {
	for _, f := range c.Fields {
		if f.Field == field {
			return
		}
	}
	c.Fields = append(c.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns c when it holds at least one field error, and nil otherwise.
func (c *ConfigError) Err() error {
	if c == nil || len(c.Fields) == 0 {
		return nil
	}
	return c
}

func (c *ConfigError) Error() string {
	parts := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid config: " + strings.Join(parts, "; ")
}

func (c *ConfigError) asError() *Error {
	fields := make([]any, len(c.Fields))
	for i, f := range c.Fields {
		fields[i] = map[string]any{"field": f.Field, "message": f.Message}
	}
	return &Error{
		Code:    CodeInvalidConfig,
		Message: strings.TrimPrefix(c.Error(), "invalid config: "),
		Details: map[string]any{"fields": fields},
		Cause:   c,
	}
}
