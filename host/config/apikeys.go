package config

import (
	"slices"
	"strings"

	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/host/config/internal/walk"
	"go.yaml.in/yaml/v3"
)

var apiKeyKeys = []string{"key", "connectors", "scopes"}

// apiKeys decodes api_keys: each entry a plain string (every scope on every
// connector, kept for one release) or {key, connectors, scopes}. It runs after
// the instances are decoded, so the connectors a key names are checked.
func (d *decoder) apiKeys(cfg *Config, fs walk.Fields, kind listenKind) {
	e, ok, at := fs.At("api_keys")
	if ok {
		seq := walk.Deref(e.Value)
		if seq.Kind != yaml.SequenceNode {
			d.ps.Add(at.Path, at.Pos, `must be a list of keys, like [{key: "${IDPLUG_API_KEY}", scopes: [signin]}]`)
		} else {
			known := map[string]bool{}
			for _, in := range cfg.Instances {
				known[in.ID] = true
			}
			seen := map[[32]byte]int{}
			for i, n := range d.Items(seq, at.Path, at.Pos) {
				k, kat, ok := d.apiKey(n, at.Path.Item(i), known)
				if !ok {
					continue
				}
				// The same secret twice would leave its scopes ambiguous.
				if first, dup := seen[k.Digest()]; dup {
					d.ps.Add(kat.Path, kat.Pos, "is the same key as api_keys[%d]", first)
					continue
				}
				seen[k.Digest()] = i
				cfg.APIKeys = append(cfg.APIKeys, k)
			}
		}
	}
	d.requireAPIKeys(cfg, at, kind)
}

// apiKey decodes one entry of api_keys; at is where its secret is, for problems
// about it.
func (d *decoder) apiKey(n *yaml.Node, path *walk.Path, known map[string]bool) (apikey.Key, walk.Loc, bool) {
	v := walk.Deref(n)
	at := walk.Loc{Path: path, Pos: walk.PosOf(n)}
	switch {
	case v.Kind == yaml.ScalarNode:
		if msg := checkAPIKey(v.Value); msg != "" {
			d.ps.Add(path, walk.PosOf(n), "%s", msg)
			return apikey.Key{}, at, false
		}
		return apikey.Unscoped(v.Value), at, true
	case v.Kind != yaml.MappingNode:
		d.ps.Add(path, walk.PosOf(n), "must be a key, or a mapping like {key: ..., scopes: [signin], connectors: [acme]}")
		return apikey.Key{}, at, false
	}
	kfs := d.Known(v, path, apiKeyKeys)
	kfs.Pos = walk.PosOf(n)
	good := true
	secret, set, sat := kfs.Text("key")
	at = sat
	switch {
	case !set:
		d.ps.Add(sat.Path, sat.Pos, "is required: the bearer key itself (%d bytes or more)", MinAPIKeyLen)
		good = false
	default:
		if msg := checkAPIKey(secret); msg != "" {
			d.ps.Add(sat.Path, sat.Pos, "%s", msg)
			good = false
		}
	}
	k := apikey.Key{Secret: secret}
	items, empty, scat := kfs.List("scopes")
	if empty {
		d.ps.Add(scat.Path, scat.Pos, "is required: what the key may do, among %s", scopeNames())
		good = false
	}
	for _, it := range items {
		if !apikey.Known(it.Value) {
			d.ps.Add(it.At.Path, it.At.Pos, "%q must be one of %s", it.Value, scopeNames())
			good = false
			continue
		}
		k.Scopes = append(k.Scopes, apikey.Scope(it.Value))
	}
	if d.refuseEmpty(kfs, "connectors", "leave it out for every connector, or name them") {
		good = false
	}
	if _, set, cat := kfs.At("connectors"); set {
		items, empty, _ := kfs.List("connectors")
		if empty {
			d.ps.Add(cat.Path, cat.Pos, "must name at least one connector; leave it out for every connector")
			good = false
		}
		for _, it := range items {
			if !known[it.Value] {
				d.ps.Add(it.At.Path, it.At.Pos, "%q is no connector instance of this file", it.Value)
				good = false
				continue
			}
			k.Connectors = append(k.Connectors, it.Value)
		}
		// The admin routes (a reload applies the whole file) act on every
		// connector: a key limited to some would only seem so.
		if slices.Contains(k.Scopes, apikey.Admin) && !empty {
			d.ps.Add(cat.Path, cat.Pos, "cannot limit a key with the admin scope: its routes (a reload) act on every connector; "+
				"leave connectors out, or give admin to a key of its own")
			good = false
		}
	}
	return k, at, good
}

func scopeNames() string {
	names := make([]string, 0, len(apikey.Scopes()))
	for _, s := range apikey.Scopes() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// PlainAPIKeys counts the keys written as plain strings, which may do
// everything; idplug warns about them at load.
func (c Config) PlainAPIKeys() int {
	n := 0
	for _, k := range c.APIKeys {
		if k.Plain {
			n++
		}
	}
	return n
}
