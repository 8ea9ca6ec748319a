package image_test

import (
	"os"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/config"
)

// The image's default configuration loads from the environment its docs name,
// with a scoped key: a plain string drew idplug's warning at every start and
// would lose every scope in the next release.
func TestDefaultConfigLoadsWithAScopedKey(t *testing.T) {
	data, err := os.ReadFile("idplug.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"IDPLUG_PUBLIC_URL":  "https://login.example.com",
		"IDPLUG_SESSION_KEY": strings.Repeat("s", 32),
		"IDPLUG_API_KEY":     strings.Repeat("k", 32),
	}
	cfg, err := config.Parse(data, func(name string) (string, bool) { v, ok := env[name]; return v, ok }, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminListen != "0.0.0.0:8090" {
		t.Fatalf("admin_listen: %q; want the details of /readyz and /metrics off the main port", cfg.AdminListen)
	}
	if n := cfg.PlainAPIKeys(); n != 0 || len(cfg.APIKeys) != 1 || len(cfg.APIKeys[0].Scopes) != 1 || cfg.APIKeys[0].Scopes[0] != "signin" {
		t.Fatalf("api_keys: %d plain of %d; want one key scoped to signin", n, len(cfg.APIKeys))
	}
}
