// Package wire holds what the host and the SDK must agree on to find each other:
// the go-plugin handshake, the plugin name and the protocol versions.
package wire

import plugin "github.com/hashicorp/go-plugin"

// ProtocolVersion is the newest wire protocol version this build speaks.
const ProtocolVersion = 1

// PluginName is the name under which the connector service is dispensed.
const PluginName = "connector"

// Handshake keeps a plugin binary from being run as an ordinary program, and keeps
// other go-plugin hosts from starting our plugins by mistake.
var Handshake = plugin.HandshakeConfig{
	// ProtocolVersion is unused: versions are negotiated with VersionedPlugins.
	ProtocolVersion:  0,
	MagicCookieKey:   "IDPLUG_PLUGIN",
	MagicCookieValue: "connector",
}

// Environment variables the host sets for its plugins (the host environment is not passed on).
const (
	// EnvLogLevel carries the host's log level (trace, debug, info, warn, error).
	EnvLogLevel = "IDPLUG_LOG_LEVEL"
)
