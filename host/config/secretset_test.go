package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/secretmount"
)

// onSecretRead runs hook after each read of a secret file's content until the
// test ends.
func onSecretRead(t *testing.T, hook func(full string)) {
	t.Helper()
	secretReadHook = hook
	t.Cleanup(func() { secretReadHook = nil })
}

// clientOf returns the client id and secret the configuration's connector got.
func clientOf(t *testing.T, cfg *Config) (id, secret string) {
	t.Helper()
	var c struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal(cfg.Instances[0].Config, &c); err != nil {
		t.Fatal(err)
	}
	return c.ClientID, c.ClientSecret
}

var clientFromFiles = withMinimal(
	"connectors:",
	"  - id: acme",
	"    plugin: oauth2",
	"    config: {clientId: '${file:client-id}', clientSecret: '${file:client-secret}'}",
)

// A Secret the kubelet swaps while a load reads its files, at any point of
// the load, gives the connector the client id and secret of one app: both
// the old ones or both the new ones. They were read one after the other, and
// a swap between the two reads gave one app's id with the other's secret.
func TestSecretFilesSwappedWhileReadAreOneVersion(t *testing.T) {
	appOne := map[string]string{"client-id": "app-one", "client-secret": "secret-of-app-one"}
	appTwo := map[string]string{"client-id": "app-two", "client-secret": "secret-of-app-two"}
	// The load reads each file, then each again; a swap after the last read
	// comes after a whole set was read.
	for _, tc := range []struct {
		swapAfter int
		want      map[string]string
	}{{1, appTwo}, {2, appTwo}, {3, appTwo}, {4, appOne}} {
		swapAfter, want := tc.swapAfter, tc.want
		t.Run(fmt.Sprintf("swapped after read %d", swapAfter), func(t *testing.T) {
			secret := secretmount.New(t, appOne)
			reads := 0
			onSecretRead(t, func(string) {
				if reads++; reads == swapAfter {
					secret.Update(t, appTwo)
				}
			})
			cfg, err := Parse([]byte(clientFromFiles), envOf(nil), secret.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if reads < swapAfter {
				t.Fatalf("the files were read %d times; the swap never came", reads)
			}
			id, sec := clientOf(t, cfg)
			if id != want["client-id"] || sec != want["client-secret"] {
				t.Errorf("client = %s with the secret %s; want %s with %s", id, sec, want["client-id"], want["client-secret"])
			}
		})
	}
}

// A file that changes at every read is refused after a bounded number of
// reads, with a problem naming it (and never its content).
func TestSecretFileThatKeepsChangingIsRefusedNamingIt(t *testing.T) {
	key := filepath.Join(t.TempDir(), "api.key")
	reads := 0
	rotate := func(full string) {
		reads++
		if err := os.WriteFile(full, fmt.Appendf(nil, "api-key-%03d-0123456789abcdef0123456789", reads), 0o600); err != nil {
			t.Error(err)
		}
	}
	rotate(key)
	onSecretRead(t, rotate)
	got := problemsOf(t, withMinimal(`api_keys: ["${file:`+key+`}"]`), nil)
	want := "3 api_keys[0]: ${file:" + key + "}: " + key + " kept changing while the configuration was read (5 reads, 100ms apart); try again once it is written"
	if len(got) != 1 || got[0] != want {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), want)
	}
	// Each of the maxSecretReads reads of the set reads the file, and at
	// most once more to check it.
	if reads > 1+2*maxSecretReads {
		t.Errorf("the file was read %d times; the reads are bounded by %d", reads-1, 2*maxSecretReads)
	}
}

// A file a writer is at work on (truncated, or written halfway) when the load
// reads it, and completed just after, is loaded whole, not cut short.
func TestSecretFileBeingWrittenIsNotLoadedCutShort(t *testing.T) {
	const whole = "the-client-secret-0123456789abcdef"
	for name, written := range map[string]int{"truncated": 0, "written halfway": len(whole) / 2} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for file, value := range map[string]string{"client-id": "app-one", "client-secret": "an-older-secret"} {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			w, err := os.OpenFile(filepath.Join(dir, "client-secret"), os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := w.WriteString(whole[:written]); err != nil {
				t.Fatal(err)
			}
			onSecretRead(t, func(full string) {
				if filepath.Base(full) == "client-secret" && w != nil {
					if _, err := w.WriteString(whole[written:]); err != nil {
						t.Error(err)
					}
					w = nil
				}
			})
			cfg, err := Parse([]byte(clientFromFiles), envOf(nil), dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, sec := clientOf(t, cfg); sec != whole {
				t.Errorf("client secret = %q; want %q", sec, whole)
			}
		})
	}
}

// Files that do not change are read once and checked once each, without a
// pause; a file two references name is read once per read of the set, so
// both get the same content.
func TestStableSecretFilesAreReadOnceAndCheckedOnce(t *testing.T) {
	dir := t.TempDir()
	for file, value := range map[string]string{"session.key": key40, "api.key": apiKeyA} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reads := map[string]int{}
	onSecretRead(t, func(full string) { reads[filepath.Base(full)]++ })
	cfg, err := Parse([]byte(doc(
		"plugin_dir: ./plugins",
		`session_keys: ["${file:session.key}"]`,
		`vault_keys: ["${file:session.key}"]`,
		`api_keys: ["${file:api.key}"]`,
	)), envOf(nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.SessionKeys[0]) != key40 || string(cfg.VaultKeys[0]) != key40 || cfg.APIKeys[0].Secret != apiKeyA {
		t.Errorf("keys = %q %q %q", cfg.SessionKeys, cfg.VaultKeys, cfg.APIKeys)
	}
	if reads["session.key"] != 2 || reads["api.key"] != 2 {
		t.Errorf("reads = %v; want each file read, then checked, once", reads)
	}
}

// LoadWithSecretFiles names the files read and when each last changed, also
// when the configuration is refused (by a secret cut short, say), so that a
// reload can wait for a file a writer is at work on.
func TestLoadWithSecretFilesNamesThemWhenRefusedToo(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "session.key")
	if err := os.WriteFile(key, []byte("cut-short"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "idplug.yaml")
	if err := os.WriteFile(path, []byte(doc("plugin_dir: ./plugins", `session_keys: ["${file:session.key}"]`)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, files, err := LoadWithSecretFiles(path)
	if cfg != nil || err == nil || !strings.Contains(err.Error(), "session_keys[0]") {
		t.Fatalf("cfg, err = %v, %v; want the short key refused", cfg, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(key, &st); err != nil {
		t.Fatal(err)
	}
	want := []SecretFile{{Path: key, Changed: time.Unix(0, st.Ctim.Nano())}}
	if len(files) != 1 || files[0].Path != want[0].Path || !files[0].Changed.Equal(want[0].Changed) {
		t.Errorf("files = %v; want %v", files, want)
	}
}
