// Package config loads and checks idplug.yaml, the host's configuration file.
//
// Load reads a file and Parse checks bytes; both return either a complete
// *Config with every default applied, or an *Error that lists every problem
// found, each with the path of the field and its line, so an operator sees
// them all in one run.
//
// ${NAME} in a value is replaced from the environment (see interpolate.go for
// why this happens after parsing, on values only). ${NAME:-default} gives a
// fallback for an unset or empty variable, and $$ stands for a literal $. An
// unset variable without a fallback is an error naming it. ${file:PATH} is
// replaced by the content of a file (a secret kept out of the environment),
// without its trailing newline; a relative PATH is relative to the file's folder.
// The files one load reads are one version of the set (see secretset.go).
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/host/config/internal/walk"
	"github.com/idplug/idplug/host/mapping"
)

// Defaults and limits of the settings.
const (
	DefaultListen      = "127.0.0.1:8080"
	DefaultCallTimeout = 10 * time.Second
	MaxCallTimeout     = 5 * time.Minute
	DefaultSessionTTL  = 10 * time.Minute
	MaxSessionTTL      = 24 * time.Hour
	DefaultLogLevel    = "info"
	DefaultLogFormat   = "text"
	// MinSessionKeyLen is the shortest session key accepted, in bytes.
	MinSessionKeyLen = 32
	// MaxFileSize bounds the configuration file.
	MaxFileSize = 1 << 20
	// MaxSecretFileSize bounds a file read by ${file:PATH}.
	MaxSecretFileSize = 64 << 10
	// MaxInterpolatedSize bounds the values holding references, all together,
	// once the references are replaced: a reference of a few bytes brings up to
	// 64 KiB (a file) or a whole environment variable, so a file of short
	// references could otherwise build gigabytes.
	MaxInterpolatedSize = 4 << 20
)

// Config is a checked configuration. Secrets (SessionKeys, APIKeys) are held
// as given; do not print a Config.
type Config struct {
	// Listen is the host:port the HTTP server binds.
	Listen string
	// PublicURL is the base URL browsers and providers reach the host at,
	// without a trailing slash; callbacks are PublicURL + "/callback/{id}".
	PublicURL string
	// PluginDir is the plugin folder, made absolute against the file's folder.
	PluginDir string
	// SessionKeys seal and open sessions: the first seals, every one opens,
	// in the order written, so keys can be rotated.
	SessionKeys [][]byte
	// APIKeys are the bearer keys accepted on /v1, each with what it may do.
	// Empty only when Listen is a loopback address; /v1 is then closed.
	APIKeys []apikey.Key
	// CallTimeout bounds each call to a plugin.
	CallTimeout time.Duration
	// LogLevel is one of trace, debug, info, warn, error.
	LogLevel string
	// LogFormat is text or json.
	LogFormat string
	// SessionTTL is how long a sealed sign-in session stays valid.
	SessionTTL time.Duration
	// Store is where flows, sessions and vault tokens are kept.
	Store Store
	// VaultKeys encrypt the token vault: the first seals, every one opens.
	VaultKeys [][]byte
	// AdminListen, when set, is a second host:port serving /metrics and the
	// detailed /readyz; the main listener then keeps only /healthz and a
	// bare /readyz.
	AdminListen string
	// Instances are the configured instances (the file's connectors:), in file order.
	Instances []Instance
	// Sandbox is how plugins are confined.
	Sandbox Sandbox
	// PluginUser, when set, is the account plugins run as (idplug must run as root).
	PluginUser string
	// Provider, when set, makes idplug an OpenID Provider for its clients.
	Provider *Provider
	// HTTP bounds the listeners' connections.
	HTTP HTTP
	// Metrics says what /metrics may show.
	Metrics Metrics
	// Tracing sets what the OTEL_* variables may set too (see tracing.go).
	Tracing Tracing
}

// Sandbox is the sandbox section.
type Sandbox struct {
	// Mode is auto (the default), required or off.
	Mode string
	// Read lists extra read-only paths by plugin name (the file name without
	// idplug-connector-) or name prefix ending in "*", made absolute against the
	// file's folder.
	Read map[string][]string
	// Exec lists, keyed like Read, files (or folders of them) plugins may execute.
	Exec map[string][]string
	// Egress is proxy, open, or "" (proxy where the kernel allows).
	Egress string
	// EgressAllow narrows, keyed like Read, the hosts ("host" or "host:port")
	// a plugin's metadata declares.
	EgressAllow map[string][]string
}

// String describes c without its secrets, so that logging a Config by mistake
// does not leak keys.
func (c Config) String() string {
	ids := make([]string, len(c.Instances))
	for i, conn := range c.Instances {
		ids[i] = conn.ID
	}
	return fmt.Sprintf("config{listen=%s admin_listen=%s public_url=%s plugin_dir=%s session_keys=%d api_keys=%d call_timeout=%s session_ttl=%s log=%s/%s store=%s vault_keys=%d connectors=[%s] provider_clients=%d}",
		c.Listen, c.AdminListen, c.PublicURL, c.PluginDir, len(c.SessionKeys), len(c.APIKeys), c.CallTimeout, c.SessionTTL, c.LogLevel, c.LogFormat, c.Store.backend(), len(c.VaultKeys), strings.Join(ids, " "), c.providerClients())
}

func (c Config) providerClients() int {
	if c.Provider == nil {
		return 0
	}
	return len(c.Provider.Clients)
}

// GoString keeps %#v from printing secrets too.
func (c Config) GoString() string { return c.String() }

// Instance is one configured connector instance (an entry of connectors:).
type Instance struct {
	// ID names the instance: [a-z0-9][a-z0-9-]*, unique in the file.
	ID string
	// Plugin is the metadata id of the plugin that serves the instance.
	Plugin string
	// Target is the identity provider's name as written; empty means the
	// default, which is ID. Targets (after that default) are unique.
	Target string
	// Name, Logo and LogoDark override the plugin's display values.
	Name     map[string]string
	Logo     string
	LogoDark string
	// StoreTokens is config.storeTokens: the vault keeps the tokens of each sign-in.
	StoreTokens bool
	// Config is the instance's settings for the plugin, as a JSON object
	// ("{}" when none are given).
	Config json.RawMessage
	// Mapping is the compiled mapping: block; nil when there is none.
	Mapping *mapping.Mapping
	// Line is where the instance starts in the file, for messages about it.
	Line int
	// lines are where its fields are: "plugin", "config", "config.clientId", ...
	lines map[string]int
}

// LineOf returns the line of field ("plugin", "config.clientId",
// "config.scopes[1]") in the instance, or of the nearest enclosing field that
// is written (a missing config.clientId points at config), or the instance's.
func (c Instance) LineOf(field string) int {
	for f := field; f != ""; {
		if l, ok := c.lines[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return c.Line
}

// EffectiveTarget returns Target, or ID when Target is not set.
func (c Instance) EffectiveTarget() string {
	if c.Target != "" {
		return c.Target
	}
	return c.ID
}

// Load reads and checks the configuration file at path, with ${NAME} taken
// from the process environment and relative paths resolved against the file's
// folder. Problems in the file come back as an *Error naming path.
func Load(path string) (*Config, error) {
	cfg, _, err := LoadWithSecretFiles(path)
	return cfg, err
}

// LoadWithSecretFiles is Load, and returns the files its ${file:} references
// read too, as read, also when the configuration is refused: a secret cut
// short by a writer at work can be what refuses it, and a reload waits for
// such a file to settle.
func LoadWithSecretFiles(path string) (*Config, []SecretFile, error) {
	// A regular file only, as for ${file:}: opening a FIFO waits for a
	// writer, and a reload waiting there held every other reload, and the
	// stop, for good.
	f, info, err := openRegular(path)
	switch {
	case errors.Is(err, errNotRegular), errors.Is(err, errChanged):
		return nil, nil, fmt.Errorf("config: %s %v", path, err)
	case err != nil:
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	// Whoever may write the configuration, or put another in its place,
	// runs idplug as they like (its plugin folder, its keys): held to what a
	// secret file is.
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return nil, nil, fmt.Errorf("config: %s can be written by other accounts (mode %04o), so anyone among them configures idplug: chmod go-w it", path, perm)
	}
	if abs, err := filepath.Abs(path); err == nil {
		if err := checkSecretOwners(abs, info, "idplug's configuration"); err != nil {
			return nil, nil, fmt.Errorf("config: %v", err)
		}
	}
	// Read one byte more than allowed so that Parse can report the size.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	baseDir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	cfg, files, err := parse(data, os.LookupEnv, baseDir)
	if ce, ok := errors.AsType[*Error](err); ok {
		ce.File = path
	}
	return cfg, files, err
}

// Parse checks a configuration held in data. env looks up environment
// variables (nil means os.LookupEnv); a relative plugin_dir is resolved against
// baseDir. Problems come back as an *Error.
func Parse(data []byte, env func(string) (string, bool), baseDir string) (*Config, error) {
	cfg, _, err := parse(data, env, baseDir)
	return cfg, err
}

func parse(data []byte, env func(string) (string, bool), baseDir string) (*Config, []SecretFile, error) {
	if env == nil {
		env = os.LookupEnv
	}
	if len(data) > MaxFileSize {
		return nil, nil, &Error{Problems: []Problem{{Message: fmt.Sprintf("the file is larger than the limit of %d bytes", MaxFileSize)}}}
	}
	var ps walk.Problems
	root, files, err := readDocument(data, env, baseDir, &ps)
	if err != nil {
		return nil, files, fromWalk(err)
	}
	cfg := decodeConfig(root, baseDir, &ps)
	if err := ps.Err(); err != nil {
		return nil, files, fromWalk(err)
	}
	return cfg, files, nil
}
