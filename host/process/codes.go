package process

import "github.com/idplug/idplug/sdk"

// Codes for failures of the plugin process itself, which a connector never returns.
// Package host gives them their public names (host.CodePluginUnavailable...).
const (
	// CodePluginUnavailable: the plugin process is not running (crashed, restarting, stopped).
	CodePluginUnavailable sdk.ErrorCode = "plugin_unavailable"
	// CodePluginTimeout: the plugin did not answer before the call deadline.
	CodePluginTimeout sdk.ErrorCode = "plugin_timeout"
	// CodePluginOverloaded: too many calls are in flight to the plugin; retry shortly.
	CodePluginOverloaded sdk.ErrorCode = "plugin_overloaded"
)

// hostCodes are the codes the host gives failures of its own: its plugin
// process's (above), its instances' and mappings' (package host), its HTTP
// API's (host/server's, which cannot be named here: host/server imports this
// package). A plugin's error with one of them would pass for the host's: a 503
// with Retry-After that says the plugin process is down, a 401, 403 or 429 that
// says the client's key or address is at fault, a 404 that says there is no
// such connector, and the host's own series of the metrics. Every other code is
// the plugin's to give: the sdk's connector codes (Logto's and idplug's
// provider codes), and codes of its own, which the API answers with a 500.
// The host's tests hold this list to the API's codes (server.ErrorCodes) less
// the sdk's, so neither can change without the other.
var hostCodes = map[sdk.ErrorCode]bool{
	CodePluginUnavailable: true, CodePluginTimeout: true, CodePluginOverloaded: true,
	// package host
	"connector_not_found": true, "mapping_failed": true,
	// host/server
	"unauthorized": true, "session_invalid": true, "session_expired": true, "request_too_large": true,
	"not_found": true, "session_used": true, "store_unavailable": true, "method_not_allowed": true,
	"too_many_attempts": true, "cross_origin_request": true, "forbidden": true,
}

// hostCode reports whether code is one only the host gives: a plugin's error
// never carries it (it becomes general).
func hostCode(code sdk.ErrorCode) bool { return hostCodes[code] }
