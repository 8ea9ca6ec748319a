package config

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	topLevelKeys  = []string{"listen", "public_url", "plugin_dir", "session_keys", "api_keys", "call_timeout", "log_level", "log_format", "session_ttl", "admin_listen", "connectors", "sandbox", "plugin_user", "store", "vault_keys"}
	connectorKeys = []string{"id", "plugin", "target", "name", "logo", "logoDark", "config"}
	logLevels     = []string{"trace", "debug", "info", "warn", "error"}
	logFormats    = []string{"text", "json"}
	sandboxKeys   = []string{"mode", "read", "exec"}
	sandboxModes  = []string{"auto", "required", "off"}
	// pluginKeyRE is a plugin name, or a prefix of names ending in "*".
	pluginKeyRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*\*?$`)
	connectorIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// decodeConfig builds a Config from the document root (nil for an empty
// file), recording every problem in ps.
func decodeConfig(root *yaml.Node, baseDir string, ps *problems) *Config {
	d := newDecoder(ps)
	fs := fields{d: d, m: map[string]entry{}}
	if root != nil && !isNull(root) {
		if deref(root).Kind != yaml.MappingNode {
			ps.add(nil, posOf(root), "the file must be a mapping of settings (listen:, plugin_dir:, connectors: ...)")
			return nil
		}
		fs = d.known(root, nil, topLevelKeys)
		fs.pos = pos{} // a missing top-level key has no line to point at
	}

	cfg := &Config{}
	kind := d.listen(cfg, fs)
	d.publicURL(cfg, fs, kind)
	d.pluginDir(cfg, fs, baseDir)
	d.sessionKeys(cfg, fs)
	d.apiKeys(cfg, fs, kind)
	d.adminListen(cfg, fs)
	cfg.CallTimeout = d.duration(fs, "call_timeout", DefaultCallTimeout, MaxCallTimeout)
	cfg.SessionTTL = d.duration(fs, "session_ttl", DefaultSessionTTL, MaxSessionTTL)
	cfg.LogLevel = d.enum(fs, "log_level", DefaultLogLevel, logLevels)
	cfg.LogFormat = d.enum(fs, "log_format", DefaultLogFormat, logFormats)
	d.store(cfg, fs, baseDir)
	d.vaultKeys(cfg, fs)
	cfg.Connectors = d.connectors(fs)
	d.sandbox(cfg, fs, baseDir)
	if s, set, at := fs.text("plugin_user"); set {
		if s == "" {
			d.ps.add(at.path, at.pos, "must name a user; leave it out to run plugins as idplug's user")
		}
		cfg.PluginUser = s
	}
	return cfg
}

// sandbox decodes the sandbox section: {mode: auto|required|off, read: {plugin:
// [paths]}, exec: {plugin: [paths]}}.
func (d *decoder) sandbox(cfg *Config, fs fields, baseDir string) {
	cfg.Sandbox.Mode = "auto"
	e, ok, at := fs.at("sandbox")
	if !ok {
		return
	}
	v := deref(e.value)
	if v.Kind != yaml.MappingNode {
		d.ps.add(at.path, at.pos, "must be a mapping, like {mode: auto}")
		return
	}
	sfs := d.known(v, at.path, sandboxKeys)
	cfg.Sandbox.Mode = d.enum(sfs, "mode", "auto", sandboxModes)
	cfg.Sandbox.Read = d.pluginPaths(sfs, "read", baseDir, "{oauth2: [/opt/bridge]}")
	cfg.Sandbox.Exec = d.pluginPaths(sfs, "exec", baseDir, `{"bridge-*": [/opt/bridge/bin/node]}`)
}

// pluginPaths decodes a mapping of plugin name (or name prefix ending in "*") to a
// list of paths, relative ones taken from baseDir; nil when key is absent.
func (d *decoder) pluginPaths(sfs fields, key, baseDir, example string) map[string][]string {
	re, ok, rat := sfs.at(key)
	if !ok {
		return nil
	}
	rv := deref(re.value)
	if rv.Kind != yaml.MappingNode {
		d.ps.add(rat.path, rat.pos, "must be a mapping of plugin name to a list of paths, like %s", example)
		return nil
	}
	rfs := fields{d: d, m: map[string]entry{}, path: rat.path, pos: posOf(rv)}
	out := map[string][]string{}
	for _, pe := range d.entries(rv, rat.path, posOf(rv)) {
		if !pluginKeyRE.MatchString(pe.key) {
			d.ps.add(pe.path, pe.keyPos, "%q is not a plugin name (the file name after idplug-connector-) "+
				"or a name prefix ending in a single * (like logto-*)", pe.key)
			continue
		}
		rfs.m[pe.key] = pe
		items, _, _ := rfs.list(pe.key)
		for _, it := range items {
			if it.value == "" {
				d.ps.add(it.at.path, it.at.pos, "must be a path")
				continue
			}
			p := it.value
			if !filepath.IsAbs(p) {
				p = filepath.Join(baseDir, p)
			}
			out[pe.key] = append(out[pe.key], filepath.Clean(p))
		}
	}
	return out
}

func (d *decoder) listen(cfg *Config, fs fields) listenKind {
	s, set, at := fs.text("listen")
	if !set {
		s = DefaultListen
	}
	cfg.Listen = s
	kind, msg := checkListen(s)
	if msg != "" {
		d.ps.add(at.path, at.pos, "%s", msg)
	}
	return kind
}

func (d *decoder) publicURL(cfg *Config, fs fields, kind listenKind) {
	s, set, at := fs.text("public_url")
	if !set {
		switch kind {
		case listenLoopback:
			cfg.PublicURL = "http://" + cfg.Listen
		case listenInvalid:
			d.ps.add(at.path, at.pos, "is required")
		default:
			d.ps.add(at.path, at.pos, "is required unless listen is a loopback address with a fixed port")
		}
		return
	}
	u, msg := checkPublicURL(s)
	if msg != "" {
		d.ps.add(at.path, at.pos, "%s", msg)
	}
	cfg.PublicURL = u
}

func (d *decoder) pluginDir(cfg *Config, fs fields, baseDir string) {
	s, set, at := fs.text("plugin_dir")
	if !set || s == "" {
		d.ps.add(at.path, at.pos, "is required")
		return
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(baseDir, s)
	}
	cfg.PluginDir = filepath.Clean(s)
}

func (d *decoder) sessionKeys(cfg *Config, fs fields) {
	items, empty, at := fs.list("session_keys")
	if empty {
		d.ps.add(at.path, at.pos, "is required: at least one key of %d bytes or more", MinSessionKeyLen)
	}
	for _, it := range items {
		// Never print the key itself, only its length.
		if len(it.value) < MinSessionKeyLen {
			d.ps.add(it.at.path, it.at.pos, "is %d bytes, needs at least %d", len(it.value), MinSessionKeyLen)
		}
		cfg.SessionKeys = append(cfg.SessionKeys, []byte(it.value))
	}
}

func (d *decoder) apiKeys(cfg *Config, fs fields, kind listenKind) {
	items, _, at := fs.list("api_keys")
	for _, it := range items {
		if msg := checkAPIKey(it.value); msg != "" {
			d.ps.add(it.at.path, it.at.pos, "%s", msg)
		}
		cfg.APIKeys = append(cfg.APIKeys, it.value)
	}
	d.requireAPIKeys(cfg, at, kind)
}

func (d *decoder) duration(fs fields, key string, def, maxValue time.Duration) time.Duration {
	s, set, at := fs.text(key)
	if !set {
		return def
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.ps.add(at.path, at.pos, "%q is not a duration, like 10s or 1m30s", s)
	case v <= 0:
		d.ps.add(at.path, at.pos, "%q must be more than 0", s)
	case v > maxValue:
		d.ps.add(at.path, at.pos, "%q is more than the maximum of %s", s, maxValue)
	default:
		return v
	}
	return def
}

func (d *decoder) enum(fs fields, key, def string, allowed []string) string {
	s, set, at := fs.text(key)
	if !set {
		return def
	}
	if !slices.Contains(allowed, s) {
		d.ps.add(at.path, at.pos, "%q must be one of %s", s, strings.Join(allowed, ", "))
		return def
	}
	return s
}

// connectors decodes the instances, then checks that ids and targets are
// unique across them.
func (d *decoder) connectors(fs fields) []Connector {
	e, ok, at := fs.at("connectors")
	if !ok {
		return nil
	}
	seq := deref(e.value)
	if seq.Kind != yaml.SequenceNode {
		d.ps.add(at.path, at.pos, "must be a list of connector instances")
		return nil
	}
	if !d.enter(seq, at.path, at.pos) {
		return nil
	}
	defer d.leave(seq)

	out := make([]Connector, 0, len(seq.Content))
	ids := map[string]int{}     // id -> index of the instance that has it
	targets := map[string]int{} // target -> index of the instance that has it
	for i, n := range seq.Content {
		path := at.path.item(i)
		c, idAt, targetAt := d.connector(n, path)
		if c == nil {
			continue
		}
		if c.ID != "" {
			if first, dup := ids[c.ID]; dup {
				d.ps.add(idAt.path, idAt.pos, "%q is already the id of connectors[%d]", c.ID, first)
			} else {
				ids[c.ID] = i
			}
		}
		if t := c.EffectiveTarget(); t != "" {
			if first, dup := targets[t]; dup {
				how := ""
				if c.Target == "" {
					how = " (target defaults to the id)"
				}
				d.ps.add(targetAt.path, targetAt.pos, "%q is already the target of connectors[%d]%s", t, first, how)
			} else {
				targets[t] = i
			}
		}
		out = append(out, *c)
	}
	return out
}

// connector decodes one instance. It also returns where its id and its
// (possibly defaulted) target are, for the uniqueness checks.
func (d *decoder) connector(n *yaml.Node, path *fieldPath) (*Connector, loc, loc) {
	if deref(n).Kind != yaml.MappingNode {
		d.ps.add(path, posOf(n), "must be a mapping with at least id and plugin")
		return nil, loc{}, loc{}
	}
	fs := d.known(deref(n), path, connectorKeys)
	fs.pos = posOf(n)
	c := &Connector{Line: n.Line}

	id, set, idAt := fs.text("id")
	switch {
	case !set:
		d.ps.add(idAt.path, idAt.pos, "is required")
	case !connectorIDRE.MatchString(id):
		d.ps.add(idAt.path, idAt.pos, "%q must match [a-z0-9][a-z0-9-]*", id)
	}
	c.ID = id

	plugin, set, at := fs.text("plugin")
	if !set || plugin == "" {
		d.ps.add(at.path, at.pos, "is required")
	}
	c.Plugin = plugin

	target, set, targetAt := fs.text("target")
	if set && target == "" {
		d.ps.add(targetAt.path, targetAt.pos, "must not be empty; leave it out to use the id")
	}
	if !set {
		targetAt = loc{targetAt.path, idAt.pos}
	}
	c.Target = target

	c.Name = d.names(fs)
	for _, key := range []string{"logo", "logoDark"} {
		s, set, at := fs.text(key)
		if set && s != "" {
			if msg := checkAssetURL(s); msg != "" {
				d.ps.add(at.path, at.pos, "%s", msg)
			}
		}
		if key == "logo" {
			c.Logo = s
		} else {
			c.LogoDark = s
		}
	}
	c.Config = d.pluginConfig(fs)
	c.StoreTokens = storeTokens(c.Config)
	return c, idAt, targetAt
}

// names decodes the display name overrides: language tag -> text.
func (d *decoder) names(fs fields) map[string]string {
	e, ok, at := fs.at("name")
	if !ok {
		return nil
	}
	v := deref(e.value)
	if v.Kind != yaml.MappingNode {
		d.ps.add(at.path, at.pos, "must be a mapping of language tag to text, like {en: Acme}")
		return nil
	}
	out := map[string]string{}
	for _, ne := range d.entries(v, at.path, at.pos) {
		tv := deref(ne.value)
		if tv.Kind != yaml.ScalarNode || tv.ShortTag() == "!!null" {
			d.ps.add(ne.path, ne.keyPos, "must be text")
			continue
		}
		out[ne.key] = tv.Value
	}
	return out
}

// pluginConfig converts the config mapping, which belongs to the plugin and
// is not checked here beyond being a mapping, to JSON.
func (d *decoder) pluginConfig(fs fields) json.RawMessage {
	e, ok, at := fs.at("config")
	if !ok {
		return json.RawMessage("{}")
	}
	if v := deref(e.value); v.Kind != yaml.MappingNode {
		d.ps.add(at.path, at.pos, "must be a mapping of the plugin's settings, not a %s", kindName(v))
		return json.RawMessage("{}")
	}
	var buf bytes.Buffer
	d.toJSON(&buf, e.value, at.path)
	if !json.Valid(buf.Bytes()) {
		// Only reachable after a problem was recorded and a placeholder written.
		return json.RawMessage("{}")
	}
	return json.RawMessage(buf.Bytes())
}
