package config

import (
	"strings"
	"testing"
)

const storeBase = "plugin_dir: ./plugins\nsession_keys: [\"0123456789abcdef0123456789abcdef\"]\n"

func TestStoreDefaultsToSQLiteBesideTheFile(t *testing.T) {
	cfg, err := Parse([]byte(storeBase), nil, "/etc/idplug")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.URL != "sqlite:/etc/idplug/idplug.db" || cfg.Store.Timeout != DefaultStoreTimeout {
		t.Fatalf("Store = %+v", cfg.Store)
	}
}

func TestStoreSettings(t *testing.T) {
	for _, tc := range []struct{ yaml, url, problem string }{
		{"store: {url: off}", "", ""},
		{"store: {url: 'sqlite:/var/lib/idplug/state.db'}", "sqlite:/var/lib/idplug/state.db", ""},
		{"store: {url: 'postgres://idplug:pw@db:5432/idplug', timeout: 500ms}", "postgres://idplug:pw@db:5432/idplug", ""},
		{"store: {url: 'mysql://root:hunter2@db/x'}", "", "store.url: must be sqlite:FILE, postgres://... or off"},
		{"store: {url: 'sqlite:'}", "", "store.url: must be sqlite:FILE"},
		{"store: {timeout: 2h}", "", "store.timeout: \"2h\" is more than the maximum"},
		{"store: {uri: x}", "", "store.uri: unknown key (known keys: url, timeout)"},
		{"store: sqlite", "", "store: must be a mapping"},
		{"vault_keys: [short]", "", "vault_keys[0]: is 5 bytes, needs at least 32"},
	} {
		cfg, err := Parse([]byte(storeBase+tc.yaml), nil, "/etc/idplug")
		if tc.problem != "" {
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("%s: error %v, want %q", tc.yaml, err, tc.problem)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s: the error shows the password: %v", tc.yaml, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		if cfg.Store.URL != tc.url {
			t.Errorf("%s: URL %q, want %q", tc.yaml, cfg.Store.URL, tc.url)
		}
		if strings.Contains(cfg.String(), "pw@") {
			t.Errorf("String() shows the database password: %s", cfg)
		}
	}
}

func TestKeepsTokens(t *testing.T) {
	for yaml, want := range map[string]bool{
		"vault_keys: [\"0123456789abcdef0123456789abcdef\"]\nconnectors: [{id: a, plugin: p, config: {storeTokens: true}}]":                    true,
		"connectors: [{id: a, plugin: p, config: {storeTokens: true}}]":                                                                        false,
		"store: {url: off}\nvault_keys: [\"0123456789abcdef0123456789abcdef\"]\nconnectors: [{id: a, plugin: p, config: {storeTokens: true}}]": false,
		"vault_keys: [\"0123456789abcdef0123456789abcdef\"]\nconnectors: [{id: a, plugin: p, config: {storeTokens: \"true\"}}]":                false,
		"vault_keys: [\"0123456789abcdef0123456789abcdef\"]\nconnectors: [{id: a, plugin: p}]":                                                 false,
	} {
		cfg, err := Parse([]byte(storeBase+yaml), nil, "/etc/idplug")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.KeepsTokens(cfg.Instances[0]); got != want {
			t.Errorf("%s: KeepsTokens = %v, want %v", yaml, got, want)
		}
	}
}
