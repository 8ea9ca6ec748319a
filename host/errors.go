package host

import (
	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/sdk"
)

// Codes the host adds to the connector error codes, for failures a connector never
// returns itself. host/server maps each to its HTTP status.
const (
	// CodeInstanceNotFound: no instance with this id is configured. The code
	// keeps the HTTP API's word, connector.
	CodeInstanceNotFound sdk.ErrorCode = "connector_not_found"
	// CodePluginUnavailable: the plugin process is not running (crashed, restarting, stopped).
	CodePluginUnavailable = process.CodePluginUnavailable
	// CodePluginTimeout: the plugin did not answer before the call deadline.
	CodePluginTimeout = process.CodePluginTimeout
	// CodePluginOverloaded: too many calls are in flight to the plugin; retry shortly.
	CodePluginOverloaded = process.CodePluginOverloaded
	// CodeMappingFailed: the instance's mapping could not map this profile (an
	// expression failed, or went over its cost or size limit).
	CodeMappingFailed = mapping.CodeFailed
)
