package server

import (
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// ErrorCodes lists every error code the HTTP API answers with; statusFor gives each
// its status. The README's table of codes and openapi.json's ErrorCode are tested
// against this list.
func ErrorCodes() []sdk.ErrorCode {
	return []sdk.ErrorCode{
		sdk.CodeGeneral, sdk.CodeInvalidMetadata, sdk.CodeInvalidConfig, sdk.CodeInvalidRequestParameters,
		sdk.CodeInsufficientRequestParameters, sdk.CodeInvalidResponse, sdk.CodeNotImplemented,
		sdk.CodeRateLimitExceeded, sdk.CodeSocialAuthCodeInvalid, sdk.CodeSocialAccessTokenInvalid,
		sdk.CodeSocialIDTokenInvalid, sdk.CodeAuthorizationFailed,
		sdk.CodeProviderUnavailable, sdk.CodeProviderTimeout,
		host.CodeInstanceNotFound, host.CodePluginUnavailable, host.CodePluginTimeout, host.CodePluginOverloaded,
		host.CodeMappingFailed,
		CodeUnauthorized, CodeNotFound, CodeSessionInvalid, CodeSessionExpired, CodeRequestTooLarge,
		CodeMethodNotAllowed, CodeCrossOrigin, CodeTooManyAttempts, CodeSessionUsed, CodeStoreUnavailable,
		CodeForbidden,
	}
}

// StatusFor is the HTTP status of an error code (500 for a code it does not know).
func StatusFor(code sdk.ErrorCode) int { return statusFor(code) }
