package config

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"time"

	"github.com/idplug/idplug/host/config/internal/walk"
	"go.yaml.in/yaml/v3"
)

// Store settings: where the state that outlives a request lives.
const (
	// DefaultStoreURL is a SQLite file beside the configuration file.
	DefaultStoreURL     = "sqlite:idplug.db"
	DefaultStoreTimeout = 2 * time.Second
	MaxStoreTimeout     = time.Minute
	// MinVaultKeyLen is the shortest vault key accepted, in bytes.
	MinVaultKeyLen = 32
)

var storeKeys = []string{"url", "timeout"}

// Store configures the state backend.
type Store struct {
	// URL is sqlite:ABSOLUTE-PATH or postgres://...; empty when the store is
	// off (stateless mode: flows are not single-use, sign-out only clears the cookie).
	URL string
	// Timeout bounds every store call.
	Timeout time.Duration
}

// Enabled reports whether a store is configured.
func (s Store) Enabled() bool { return s.URL != "" }

// store decodes the store: mapping. A relative SQLite path is resolved against baseDir.
func (d *decoder) store(cfg *Config, fs walk.Fields, baseDir string) {
	cfg.Store = Store{URL: DefaultStoreURL, Timeout: DefaultStoreTimeout}
	e, ok, at := fs.At("store")
	if ok {
		v := walk.Deref(e.Value)
		if v.Kind != yaml.MappingNode {
			d.ps.Add(at.Path, at.Pos, "must be a mapping, like {url: sqlite:idplug.db}")
			return
		}
		sfs := d.Known(v, at.Path, storeKeys)
		sfs.Pos = walk.PosOf(v)
		d.refuseEmpty(sfs, "url", "leave it out for "+DefaultStoreURL+" beside this file, or write off")
		if s, set, uat := sfs.Text("url"); set {
			switch {
			case s == "off":
				cfg.Store.URL = ""
			case strings.HasPrefix(s, "sqlite:") && len(s) > len("sqlite:"),
				strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
				cfg.Store.URL = s
			default:
				// Never echo the value: a database URL may hold a password.
				d.ps.Add(uat.Path, uat.Pos, "must be sqlite:FILE, postgres://... or off")
			}
		}
		cfg.Store.Timeout = d.duration(sfs, "timeout", DefaultStoreTimeout, 100*time.Millisecond, MaxStoreTimeout)
	}
	if file, ok := strings.CutPrefix(cfg.Store.URL, "sqlite:"); ok && !filepath.IsAbs(file) {
		cfg.Store.URL = "sqlite:" + filepath.Clean(filepath.Join(baseDir, file))
	}
}

// vaultKeys decodes vault_keys: optional, but required once an instance keeps tokens.
func (d *decoder) vaultKeys(cfg *Config, fs walk.Fields) {
	items, _, _ := fs.List("vault_keys")
	for i, it := range items {
		// Never print the key itself, only its length.
		if len(it.Value) < MinVaultKeyLen {
			d.ps.Add(it.At.Path, it.At.Pos, "is %d bytes, needs at least %d", len(it.Value), MinVaultKeyLen)
		}
		d.noRepeatedKey(items, i, "vault_keys")
		cfg.VaultKeys = append(cfg.VaultKeys, []byte(it.Value))
	}
}

// storeTokens reads the instance's config.storeTokens (Logto's switch for
// handing the tokens of a sign-in back). The vault keeps them when a store and
// vault_keys are configured too; idplug serve warns when they are not.
func storeTokens(pluginConfig json.RawMessage) bool {
	var flags struct {
		StoreTokens any `json:"storeTokens"`
	}
	return json.Unmarshal(pluginConfig, &flags) == nil && flags.StoreTokens == true
}

// KeepsTokens reports whether the vault keeps the tokens of instance c.
func (cfg *Config) KeepsTokens(c Instance) bool {
	return c.StoreTokens && cfg.Store.Enabled() && len(cfg.VaultKeys) > 0
}

// backend names the kind of store without its URL, which may hold a password.
func (s Store) backend() string {
	if i := strings.Index(s.URL, ":"); i > 0 {
		return s.URL[:i]
	}
	return "off"
}
