package metrics

import (
	"slices"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// apiCodes are the HTTP API's own error codes (host/server's Code* constants,
// which cannot be named here: host/server imports this package). A test holds
// this list to the constants, so neither can change without the other.
var apiCodes = []sdk.ErrorCode{
	"unauthorized", "session_invalid", "session_expired", "request_too_large", "not_found",
	"session_used", "store_unavailable", "method_not_allowed", "too_many_attempts", "cross_origin_request",
	"forbidden",
}

// codes is the vocabulary of the code and result labels: the connector codes of
// the sdk, the codes the host adds (the plugin process's among them) and the
// HTTP API's.
var codes = func() map[sdk.ErrorCode]bool {
	m := map[sdk.ErrorCode]bool{}
	for _, c := range []sdk.ErrorCode{
		sdk.CodeGeneral, sdk.CodeInvalidMetadata, sdk.CodeInvalidConfig, sdk.CodeInvalidRequestParameters,
		sdk.CodeInsufficientRequestParameters, sdk.CodeInvalidResponse, sdk.CodeNotImplemented,
		sdk.CodeRateLimitExceeded, sdk.CodeSocialAuthCodeInvalid, sdk.CodeSocialAccessTokenInvalid,
		sdk.CodeSocialIDTokenInvalid, sdk.CodeAuthorizationFailed, sdk.CodeProviderUnavailable, sdk.CodeProviderTimeout,
		host.CodeInstanceNotFound, host.CodePluginUnavailable, host.CodePluginTimeout, host.CodePluginOverloaded,
	} {
		m[c] = true
	}
	for _, c := range apiCodes {
		m[c] = true
	}
	return m
}()

// Codes lists the error codes a metric label may carry, sorted.
func Codes() []sdk.ErrorCode {
	out := make([]sdk.ErrorCode, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// CodeLabel is the label value for an error code: the code when idplug defines
// it, general for any other. The code of a call's error is whatever the plugin
// sent: taken as it is, a plugin could make a new series with every call, or put
// a secret into a label /metrics serves.
func CodeLabel(code sdk.ErrorCode) string {
	if codes[code] {
		return string(code)
	}
	return string(sdk.CodeGeneral)
}
