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
