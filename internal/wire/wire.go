// Package wire holds what the host and the SDK must agree on to find each other:
// the go-plugin handshake, the plugin name and the protocol versions, and the names
// of plugin files and instances.
package wire

import (
	"regexp"

	plugin "github.com/hashicorp/go-plugin"
)

// PluginFilePrefix starts the file name of every plugin executable:
// idplug-connector-<name>.
const PluginFilePrefix = "idplug-connector-"

// PluginNameRE is what <name> in a plugin's file name, and a plugin's metadata id, may be.
var PluginNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// InstanceIDRE is what an instance id (a connector's id in idplug.yaml, and in
// every /v1 and browser route) may be.
var InstanceIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// MaxInstanceIDLen bounds an instance id: it is in every route, cookie name and
// sealed flow of its connector (a 5,000-byte id made every sign-in's cookie too
// large to keep).
const MaxInstanceIDLen = 64

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

// WindowSize is the HTTP/2 flow-control window, per stream and per connection,
// that both ends of a plugin's connection use, fixed. With gRPC's default,
// dynamic windows, each end answers the first data of every call with a
// bandwidth probe (a PING the other end wakes up to acknowledge): a few context
// switches a call on a path with no bandwidth to find (BENCHMARKS.md, "The
// runtime's monitor, and no bandwidth probes"). A reply over it, up to the host's
// 4 MiB limit, takes a window update on the way.
const WindowSize = 1 << 20

// Environment variables the host sets for its plugins (the host environment is not passed on).
const (
	// EnvLogLevel carries the host's log level (trace, debug, info, warn, error).
	EnvLogLevel = "IDPLUG_LOG_LEVEL"
	// EnvEgressProxy is the path of the host's egress proxy (HTTP CONNECT on a
	// Unix socket in the plugin's socket folder), set when the plugin has no
	// network of its own.
	EnvEgressProxy = "IDPLUG_EGRESS_PROXY"
	// EnvTracing is "1" when the host traces calls: the plugin then records spans
	// for sampled calls and serves TraceService. Absent, tracing costs it nothing.
	EnvTracing = "IDPLUG_TRACING"
)
