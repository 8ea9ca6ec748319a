package config

import (
	"bytes"
	"encoding/json"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idplug/idplug/host/config/internal/walk"
	"github.com/idplug/idplug/internal/wire"
	"go.yaml.in/yaml/v3"
)

var (
	topLevelKeys  = []string{"listen", "public_url", "plugin_dir", "session_keys", "api_keys", "call_timeout", "log_level", "log_format", "session_ttl", "admin_listen", "connectors", "sandbox", "plugin_user", "store", "vault_keys", "provider", "metrics", "http", "tracing"}
	connectorKeys = []string{"id", "plugin", "target", "name", "logo", "logoDark", "config", "mapping"}
	logLevels     = []string{"trace", "debug", "info", "warn", "error"}
	logFormats    = []string{"text", "json"}
	sandboxKeys   = []string{"mode", "read", "exec", "egress", "egress_allow"}
	egressModes   = []string{"proxy", "open"}
	sandboxModes  = []string{"auto", "required", "off"}
	// pluginKeyRE is a plugin name, or a prefix of names ending in "*".
	pluginKeyRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*\*?$`)
	connectorIDRE = wire.InstanceIDRE
)

// decoder is the walker with the schema's methods on top; ps is the list the
// walker records its problems in, shared with the schema's own checks.
type decoder struct {
	*walk.Decoder
	ps *walk.Problems
}

// decodeConfig builds a Config from the document root (nil for an empty
// file), recording every problem in ps.
func decodeConfig(root *yaml.Node, baseDir string, ps *walk.Problems) *Config {
	d := &decoder{Decoder: walk.NewDecoder(ps), ps: ps}
	fs := d.NewFields(nil, walk.Pos{})
	if root != nil && !walk.IsNull(root) {
		if walk.Deref(root).Kind != yaml.MappingNode {
			ps.Add(nil, walk.PosOf(root), "the file must be a mapping of settings (listen:, plugin_dir:, connectors: ...)")
			return nil
		}
		fs = d.Known(root, nil, topLevelKeys)
		fs.Pos = walk.Pos{} // a missing top-level key has no line to point at
	}

	cfg := &Config{}
	kind := d.listen(cfg, fs)
	d.publicURL(cfg, fs, kind)
	d.pluginDir(cfg, fs, baseDir)
	d.sessionKeys(cfg, fs)
	d.adminListen(cfg, fs)
	cfg.CallTimeout = d.duration(fs, "call_timeout", DefaultCallTimeout, time.Second, MaxCallTimeout)
	cfg.SessionTTL = d.duration(fs, "session_ttl", DefaultSessionTTL, time.Minute, MaxSessionTTL)
	cfg.LogLevel = d.enum(fs, "log_level", DefaultLogLevel, logLevels)
	cfg.LogFormat = d.enum(fs, "log_format", DefaultLogFormat, logFormats)
	d.store(cfg, fs, baseDir)
	d.vaultKeys(cfg, fs)
	cfg.Instances = d.connectors(fs)
	d.apiKeys(cfg, fs, kind) // after the instances: a key may name them
	d.provider(cfg, fs)
	d.sandbox(cfg, fs, baseDir)
	d.httpSection(cfg, fs)
	d.metricsSection(cfg, fs)
	d.tracing(cfg, fs)
	if s, set, at := fs.Text("plugin_user"); set {
		if s == "" {
			d.ps.Add(at.Path, at.Pos, "must name a user; leave it out to run plugins as idplug's user")
		}
		cfg.PluginUser = s
	}
	return cfg
}

// sandbox decodes the sandbox section: {mode: auto|required|off, read: {plugin:
// [paths]}, exec: {plugin: [paths]}}.
func (d *decoder) sandbox(cfg *Config, fs walk.Fields, baseDir string) {
	cfg.Sandbox.Mode = "auto"
	e, ok, at := fs.At("sandbox")
	if !ok {
		return
	}
	v := walk.Deref(e.Value)
	if v.Kind != yaml.MappingNode {
		d.ps.Add(at.Path, at.Pos, "must be a mapping, like {mode: auto}")
		return
	}
	sfs := d.Known(v, at.Path, sandboxKeys)
	d.refuseEmpty(sfs, "mode", "leave it out for auto, or write auto, required or off")
	cfg.Sandbox.Mode = d.enum(sfs, "mode", "auto", sandboxModes)
	cfg.Sandbox.Read = d.pluginPaths(sfs, "read", baseDir, "{oauth2: [/opt/bridge]}")
	cfg.Sandbox.Exec = d.pluginPaths(sfs, "exec", baseDir, `{"bridge-*": [/opt/bridge/bin/node]}`)
	cfg.Sandbox.Egress = d.enum(sfs, "egress", "", egressModes)
	cfg.Sandbox.EgressAllow = d.pluginHosts(sfs, "egress_allow")
}

// hostPortRE is "host" or "host:port": a DNS name or an IPv4 address, or an
// IPv6 address in brackets.
var hostPortRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(:([1-9][0-9]{0,4}))?$`)

// pluginHosts decodes a mapping of plugin name (or prefix ending in "*") to a
// list of hosts; nil when key is absent, an empty list kept as one.
func (d *decoder) pluginHosts(sfs walk.Fields, key string) map[string][]string {
	return d.pluginLists(sfs, key, "hosts", "{github: [api.github.com]}", func(it walk.Item) (string, bool) {
		m := hostPortRE.FindStringSubmatch(it.Value)
		if m == nil || (m[4] != "" && len(m[4]) == 5 && m[4] > "65535") {
			d.ps.Add(it.At.Path, it.At.Pos, "%q is not a host or host:port, like api.github.com or api.github.com:443", it.Value)
			return "", false
		}
		return strings.ToLower(it.Value), true
	})
}

// pluginPaths decodes a mapping of plugin name (or name prefix ending in "*") to a
// list of paths, relative ones taken from baseDir; nil when key is absent.
func (d *decoder) pluginPaths(sfs walk.Fields, key, baseDir, example string) map[string][]string {
	out := d.pluginLists(sfs, key, "paths", example, func(it walk.Item) (string, bool) {
		if it.Value == "" {
			d.ps.Add(it.At.Path, it.At.Pos, "must be a path")
			return "", false
		}
		p := it.Value
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		return filepath.Clean(p), true
	})
	// A plugin with no path grants nothing: leave it out.
	maps.DeleteFunc(out, func(_ string, paths []string) bool { return len(paths) == 0 })
	return out
}

// pluginLists decodes a mapping of plugin name (or name prefix ending in "*") to
// a list of what (like example), each item through item, which reports a bad one
// and returns false to leave it out; nil when key is absent. Every plugin named
// has an entry, an empty list when none of its items is kept.
func (d *decoder) pluginLists(sfs walk.Fields, key, what, example string, item func(walk.Item) (string, bool)) map[string][]string {
	re, ok, rat := sfs.At(key)
	if !ok {
		return nil
	}
	rv := walk.Deref(re.Value)
	if rv.Kind != yaml.MappingNode {
		d.ps.Add(rat.Path, rat.Pos, "must be a mapping of plugin name to a list of %s, like %s", what, example)
		return nil
	}
	rfs := d.NewFields(rat.Path, walk.PosOf(rv))
	out := map[string][]string{}
	for _, pe := range d.Entries(rv, rat.Path, walk.PosOf(rv)) {
		if pe.Key == "*" {
			d.ps.Add(pe.Path, pe.KeyPos, `"*" alone would cover every plugin; name a plugin, or a prefix like logto-*`)
			continue
		}
		if !pluginKeyRE.MatchString(pe.Key) {
			// Quoted only when the path shows it too (walk.KeyName).
			name := "the key"
			if walk.KeyName(pe.Key) {
				name = strconv.Quote(pe.Key)
			}
			d.ps.Add(pe.Path, pe.KeyPos, "%s is not a plugin name (the file name after idplug-connector-) "+
				"or a name prefix ending in a single * (like logto-*)", name)
			continue
		}
		rfs.Set(pe)
		items, _, _ := rfs.List(pe.Key)
		out[pe.Key] = []string{}
		for _, it := range items {
			if v, ok := item(it); ok {
				out[pe.Key] = append(out[pe.Key], v)
			}
		}
	}
	return out
}

func (d *decoder) listen(cfg *Config, fs walk.Fields) listenKind {
	s, set, at := fs.Text("listen")
	if !set {
		s = DefaultListen
	}
	cfg.Listen = s
	kind, msg := checkListen(s)
	if msg != "" {
		d.ps.Add(at.Path, at.Pos, "%s", msg)
	}
	return kind
}

func (d *decoder) publicURL(cfg *Config, fs walk.Fields, kind listenKind) {
	s, set, at := fs.Text("public_url")
	if !set {
		switch kind {
		case listenLoopback:
			cfg.PublicURL = "http://" + cfg.Listen
		case listenInvalid:
			// listen's own problem says what to fix; whether public_url is
			// needed depends on what listen becomes.
		default:
			d.ps.Add(at.Path, at.Pos, "is required unless listen is a loopback address with a fixed port")
		}
		return
	}
	u, msg := checkPublicURL(s)
	if msg != "" {
		d.ps.Add(at.Path, at.Pos, "%s", msg)
	}
	cfg.PublicURL = u
}

func (d *decoder) pluginDir(cfg *Config, fs walk.Fields, baseDir string) {
	s, set, at := fs.Text("plugin_dir")
	if !set || s == "" {
		d.ps.Add(at.Path, at.Pos, "is required")
		return
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(baseDir, s)
	}
	cfg.PluginDir = filepath.Clean(s)
}

func (d *decoder) sessionKeys(cfg *Config, fs walk.Fields) {
	items, empty, at := fs.List("session_keys")
	if empty {
		d.ps.Add(at.Path, at.Pos, "is required: at least one key of %d bytes or more", MinSessionKeyLen)
	}
	for i, it := range items {
		// Never print the key itself, only its length.
		if len(it.Value) < MinSessionKeyLen {
			d.ps.Add(it.At.Path, it.At.Pos, "is %d bytes, needs at least %d", len(it.Value), MinSessionKeyLen)
		}
		d.noRepeatedKey(items, i, "session_keys")
		cfg.SessionKeys = append(cfg.SessionKeys, []byte(it.Value))
	}
}

// noRepeatedKey refuses items[i] when an earlier key of the list is the same:
// a rotation that repeats the old key (a copy pasted twice) rotates nothing,
// and says so only once the old key is dropped.
func (d *decoder) noRepeatedKey(items []walk.Item, i int, list string) {
	for j := range i {
		if items[j].Value == items[i].Value && items[i].Value != "" {
			d.ps.Add(items[i].At.Path, items[i].At.Pos, "is the same key as %s[%d]: to rotate, put a new key first and the old one after it", list, j)
			return
		}
	}
}

// duration reads key as a duration between minValue and maxValue: below the
// minimum a setting cannot work at all (a call_timeout of 1ms refuses every
// plugin at its first call), and says so at load, not at each request.
func (d *decoder) duration(fs walk.Fields, key string, def, minValue, maxValue time.Duration) time.Duration {
	s, set, at := fs.Text(key)
	if !set {
		return def
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil && strings.HasSuffix(s, "d"):
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && n > 0 {
			d.ps.Add(at.Path, at.Pos, "%q is not a duration: durations have no days; write %dh", s, 24*n)
			break
		}
		d.ps.Add(at.Path, at.Pos, "%q is not a duration, like 10s or 1m30s", s)
	case err != nil:
		d.ps.Add(at.Path, at.Pos, "%q is not a duration, like 10s or 1m30s", s)
	case v <= 0:
		d.ps.Add(at.Path, at.Pos, "%q must be more than 0", s)
	case v < minValue:
		d.ps.Add(at.Path, at.Pos, "%q is less than the minimum of %s", s, shortDuration(minValue))
	case v > maxValue:
		d.ps.Add(at.Path, at.Pos, "%q is more than the maximum of %s", s, shortDuration(maxValue))
	default:
		return v
	}
	return def
}

// shortDuration writes v as an operator would: 24h, 1m, 100ms, not 24h0m0s.
func shortDuration(v time.Duration) string {
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (d *decoder) enum(fs walk.Fields, key, def string, allowed []string) string {
	s, set, at := fs.Text(key)
	if !set {
		return def
	}
	if !slices.Contains(allowed, s) {
		d.ps.Add(at.Path, at.Pos, "%q must be one of %s", s, strings.Join(allowed, ", "))
		return def
	}
	return s
}

// connectors decodes the instances, then checks that ids and targets are
// unique across them.
func (d *decoder) connectors(fs walk.Fields) []Instance {
	e, ok, at := fs.At("connectors")
	if !ok {
		return nil
	}
	seq := walk.Deref(e.Value)
	if seq.Kind != yaml.SequenceNode {
		d.ps.Add(at.Path, at.Pos, "must be a list of connector instances")
		return nil
	}
	if !d.Enter(seq, at.Path, at.Pos) {
		return nil
	}
	defer d.Leave(seq)

	items := d.Items(seq, at.Path, at.Pos)
	out := make([]Instance, 0, len(items))
	ids := map[string]int{}     // id -> index of the instance that has it
	targets := map[string]int{} // target -> index of the instance that has it
	for i, n := range items {
		path := at.Path.Item(i)
		c, idAt, targetAt := d.connector(n, path)
		if c == nil {
			continue
		}
		if c.ID != "" {
			if first, dup := ids[c.ID]; dup {
				d.ps.Add(idAt.Path, idAt.Pos, "%q is already the id of connectors[%d]", c.ID, first)
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
				d.ps.Add(targetAt.Path, targetAt.Pos, "%q is already the target of connectors[%d]%s", t, first, how)
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
func (d *decoder) connector(n *yaml.Node, path *walk.Path) (*Instance, walk.Loc, walk.Loc) {
	if walk.Deref(n).Kind != yaml.MappingNode {
		d.ps.Add(path, walk.PosOf(n), "must be a mapping with at least id and plugin")
		return nil, walk.Loc{}, walk.Loc{}
	}
	fs := d.Known(n, path, connectorKeys) // an alias's problems point at it
	fs.Pos = walk.PosOf(n)
	c := &Instance{Line: n.Line}

	id, set, idAt := fs.Text("id")
	switch {
	case !set:
		d.ps.Add(idAt.Path, idAt.Pos, "is required")
	case len(id) > wire.MaxInstanceIDLen:
		d.ps.Add(idAt.Path, idAt.Pos, "is %d bytes, at most %d: the id is in every route and cookie of the connector", len(id), wire.MaxInstanceIDLen)
	case !connectorIDRE.MatchString(id):
		d.ps.Add(idAt.Path, idAt.Pos, "%q must match %s", id, strings.Trim(connectorIDRE.String(), "^$"))
	}
	c.ID = id

	plugin, set, at := fs.Text("plugin")
	if !set || plugin == "" {
		d.ps.Add(at.Path, at.Pos, "is required")
	}
	c.Plugin = plugin

	target, set, targetAt := fs.Text("target")
	if set && target == "" {
		d.ps.Add(targetAt.Path, targetAt.Pos, "must not be empty; leave it out to use the id")
	}
	if !set {
		targetAt = walk.Loc{Path: targetAt.Path, Pos: idAt.Pos}
	}
	c.Target = target

	c.Name = d.names(fs)
	for _, key := range []string{"logo", "logoDark"} {
		s, set, at := fs.Text(key)
		if set && s != "" {
			if msg := checkAssetURL(s); msg != "" {
				d.ps.Add(at.Path, at.Pos, "%s", msg)
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
	c.lines = map[string]int{}
	recordLines(c.lines, "", walk.Deref(n), 0)
	c.Mapping = d.mapping(fs)
	return c, idAt, targetAt
}

// recordLines notes the line of every key under n, by its path ("config.a.b",
// "config.list[0]"), so a plugin's field errors can point into the file. It
// does not follow aliases: their values are written elsewhere, and following
// them would let a few lines of YAML cost exponential work.
func recordLines(lines map[string]int, prefix string, n *yaml.Node, depth int) {
	if n == nil || depth > walk.MaxDepth {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			if _, seen := lines[key]; !seen {
				lines[key] = n.Content[i].Line
			}
			recordLines(lines, key, n.Content[i+1], depth+1)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			key := prefix + "[" + strconv.Itoa(i) + "]"
			lines[key] = item.Line
			recordLines(lines, key, item, depth+1)
		}
	}
}

// names decodes the display name overrides: language tag -> text.
func (d *decoder) names(fs walk.Fields) map[string]string {
	e, ok, at := fs.At("name")
	if !ok {
		return nil
	}
	v := walk.Deref(e.Value)
	if v.Kind != yaml.MappingNode {
		d.ps.Add(at.Path, at.Pos, "must be a mapping of language tag to text, like {en: Acme}")
		return nil
	}
	out := map[string]string{}
	for _, ne := range d.Entries(v, at.Path, at.Pos) {
		tv := walk.Deref(ne.Value)
		if tv.Kind != yaml.ScalarNode || tv.ShortTag() == "!!null" {
			d.ps.Add(ne.Path, ne.KeyPos, "must be text")
			continue
		}
		out[ne.Key] = tv.Value
	}
	return out
}

// pluginConfig converts the config mapping, which belongs to the plugin and
// is not checked here beyond being a mapping, to JSON.
func (d *decoder) pluginConfig(fs walk.Fields) json.RawMessage {
	e, ok, at := fs.At("config")
	if !ok {
		return json.RawMessage("{}")
	}
	if v := walk.Deref(e.Value); v.Kind != yaml.MappingNode {
		d.ps.Add(at.Path, at.Pos, "must be a mapping of the plugin's settings, not a %s", walk.KindName(v))
		return json.RawMessage("{}")
	}
	var buf bytes.Buffer
	d.ToJSON(&buf, e.Value, at.Path)
	if !json.Valid(buf.Bytes()) {
		// Only reachable after a problem was recorded and a placeholder written.
		return json.RawMessage("{}")
	}
	return json.RawMessage(buf.Bytes())
}

// refuseEmpty reports key written with no value where leaving the key out
// grants more than an operator may have meant (every connector, everyone may
// sign in, the default store): an empty ${VAR} must not widen what the file
// says. It reports whether it did.
func (d *decoder) refuseEmpty(fs walk.Fields, key, instead string) bool {
	empty, at := fs.Empty(key)
	if empty {
		d.ps.Add(at.Path, at.Pos, "has no value (written empty, or a reference that is empty); %s", instead)
	}
	return empty
}
