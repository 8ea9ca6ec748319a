package supervisor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/supervisor"
	"github.com/idplug/idplug/internal/plugintest"
)

func bystanderSum(t *testing.T, dir string) string {
	return plugintest.SHA256(t, filepath.Join(dir, "idplug-connector-bystander")) + "  idplug-connector-bystander\n"
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestRefusals lays out one folder per way a plugin file can be wrong and checks that
// the supervisor refuses exactly that file, says why, and still runs the good plugin beside it.
func TestRefusals(t *testing.T) {
	example := plugintest.Binary(t, examplePkg)
	misbehave := plugintest.Binary(t, misbehavePkg)

	cases := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		file    string // the refused file
		reason  string
		ignored bool // reported as ignored rather than refused
		// startTimeout is how long the plugins may take to start: long,
		// for the bystander on a loaded machine, but for the one case that
		// waits for it to pass.
		startTimeout time.Duration
	}{
		{
			name: "not executable",
			setup: func(t *testing.T, dir string) {
				p := plugintest.Install(t, dir, misbehave, "noexec")
				if err := os.Chmod(p, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			file: "idplug-connector-noexec", reason: "not executable",
		},
		{
			name: "owned by another user",
			setup: func(t *testing.T, dir string) {
				p := plugintest.Install(t, dir, misbehave, "foreign")
				chownOrSkip(t, p, otherUID)
			},
			file: "idplug-connector-foreign", reason: "owned by uid 54321, neither root nor the user idplug runs as",
		},
		{
			name: "writable by its group",
			setup: func(t *testing.T, dir string) {
				p := plugintest.Install(t, dir, misbehave, "groupw")
				if err := os.Chmod(p, 0o775); err != nil {
					t.Fatal(err)
				}
			},
			file: "idplug-connector-groupw", reason: "writable by its group (mode -rwxrwxr-x)",
		},
		{
			name: "link into a subfolder writable by its group",
			setup: func(t *testing.T, dir string) {
				sub := filepath.Join(dir, "sub")
				if err := os.Mkdir(sub, 0o775); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(sub, 0o775); err != nil {
					t.Fatal(err)
				}
				plugintest.Install(t, sub, misbehave, "inner")
				if err := os.Symlink("sub/idplug-connector-inner", filepath.Join(dir, "idplug-connector-linked")); err != nil {
					t.Fatal(err)
				}
			},
			file: "idplug-connector-linked", reason: "/sub that is writable by its group (mode -rwxrwxr-x)",
		},
		{
			name: "link into a subfolder of another user",
			setup: func(t *testing.T, dir string) {
				sub := filepath.Join(dir, "theirs")
				if err := os.Mkdir(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				plugintest.Install(t, sub, misbehave, "inner")
				chownOrSkip(t, sub, otherUID)
				if err := os.Symlink("theirs/idplug-connector-inner", filepath.Join(dir, "idplug-connector-viaforeign")); err != nil {
					t.Fatal(err)
				}
			},
			file: "idplug-connector-viaforeign", reason: "that is owned by uid 54321",
		},
		{
			name: "wrong name",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "connector-oauth2"), "#!/bin/sh\n", 0o755)
			},
			file: "connector-oauth2", reason: "name does not start with idplug-connector-", ignored: true,
		},
		{
			name: "bad characters in name",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "idplug-connector-Bad.Name"), "#!/bin/sh\n", 0o755)
			},
			file: "idplug-connector-Bad.Name", reason: "must match", ignored: true,
		},
		{
			name: "writable by others",
			setup: func(t *testing.T, dir string) {
				p := plugintest.Install(t, dir, misbehave, "openwrite")
				if err := os.Chmod(p, 0o757); err != nil {
					t.Fatal(err)
				}
			},
			file: "idplug-connector-openwrite", reason: "writable by other users",
		},
		{
			name: "symlink outside the folder",
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(misbehave, filepath.Join(dir, "idplug-connector-escape")); err != nil {
					t.Fatal(err)
				}
			},
			file: "idplug-connector-escape", reason: "outside the plugin folder",
		},
		{
			name: "directory",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "idplug-connector-dir"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			file: "idplug-connector-dir", reason: "not a regular file",
		},
		{
			name: "checksum mismatch",
			setup: func(t *testing.T, dir string) {
				good := plugintest.Install(t, dir, example, "example")
				plugintest.Install(t, dir, misbehave, "tampered")
				sums := plugintest.SHA256(t, good) + "  idplug-connector-example\n" + bystanderSum(t, dir) +
					strings.Repeat("ab", 32) + "  idplug-connector-tampered\n"
				writeFile(t, filepath.Join(dir, catalog.SumsFile), sums, 0o644)
			},
			file: "idplug-connector-tampered", reason: "checksum does not match SHA256SUMS",
		},
		{
			name: "not listed in SHA256SUMS",
			setup: func(t *testing.T, dir string) {
				good := plugintest.Install(t, dir, example, "example")
				plugintest.Install(t, dir, misbehave, "unlisted")
				writeFile(t, filepath.Join(dir, catalog.SumsFile), plugintest.SHA256(t, good)+" *idplug-connector-example\n"+bystanderSum(t, dir), 0o644)
			},
			file: "idplug-connector-unlisted", reason: "not listed in SHA256SUMS",
		},
		{
			name: "not a plugin",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "idplug-connector-script"), "#!/bin/sh\necho 'usage: script [flags]'\nexit 2\n", 0o755)
			},
			file: "idplug-connector-script", reason: `unrecognized plugin message "usage: script [flags]" instead of the handshake`,
		},
		{
			name: "prints to stdout before the handshake",
			setup: func(t *testing.T, dir string) {
				plugintest.Install(t, dir, misbehave, "stdout")
			},
			file: "idplug-connector-stdout", reason: `"hello from a plugin that talks too early" instead of the handshake`,
		},
		{
			name: "never finishes the handshake",
			setup: func(t *testing.T, dir string) {
				plugintest.Install(t, dir, misbehave, "nohandshake")
			},
			file: "idplug-connector-nohandshake", reason: "timeout while waiting for plugin to start",
			startTimeout: 10 * time.Second,
		},
		{
			name: "exits at start",
			setup: func(t *testing.T, dir string) {
				plugintest.Install(t, dir, misbehave, "crashstart")
			},
			file: "idplug-connector-crashstart", reason: "the plugin wrote no line to stdout before its handshake: it exited first",
		},
		{
			// Past go-plugin's 64 KiB line: said as such, not "exited".
			name: "writes a first line over 64 KiB",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "idplug-connector-longline"),
					"#!/bin/sh\ns=aaaaaaaaaa; i=0; while [ $i -lt 13 ]; do s=$s$s; i=$((i+1)); done; printf '%s\\n' \"$s\"; exit 2\n", 0o755)
			},
			file: "idplug-connector-longline", reason: "or its first line was longer than 64 KiB",
		},
		{
			name: "writes an empty first line",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "idplug-connector-blank"), "#!/bin/sh\necho\nexit 2\n", 0o755)
			},
			file: "idplug-connector-blank", reason: "the plugin's first line on stdout was empty, not its handshake",
		},
		{
			// The egress proxy matches every connection against them: 100,000
			// cost 150 ms of the host's CPU a connection.
			name: "declares too many egress hosts",
			setup: func(t *testing.T, dir string) {
				plugintest.Install(t, dir, misbehave, "manyhosts")
			},
			file: "idplug-connector-manyhosts", reason: "metadata declares 100000 egress hosts; at most 64",
		},
		{
			// The file named for the id keeps it (TestTheFileNamedForAnIDKeepsIt).
			name: "duplicate plugin id",
			setup: func(t *testing.T, dir string) {
				plugintest.Install(t, dir, example, "example")
				plugintest.Install(t, dir, example, "example-copy")
			},
			file:   "idplug-connector-example-copy",
			reason: `plugin id "example" belongs to idplug-connector-example, the file named for it; this file claims it too`,
		},
		{
			name: "duplicate plugin id, no file named for it",
			setup: func(t *testing.T, dir string) {
				plugintest.Install(t, dir, example, "example-a")
				plugintest.Install(t, dir, example, "example-b")
			},
			file:   "idplug-connector-example-b",
			reason: `plugin id "example" is claimed by more than one file: [idplug-connector-example-a idplug-connector-example-b]; none is named idplug-connector-example, so none serves`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := plugintest.Folder(t)
			// A good plugin beside the bad one keeps running.
			plugintest.Install(t, dir, misbehave, "bystander")
			tc.setup(t, dir)
			startTimeout := 30 * time.Second
			if tc.startTimeout != 0 {
				startTimeout = tc.startTimeout
			}
			h := open(t, dir, supervisor.Options{StartTimeout: startTimeout})

			entries := h.Refused()
			if tc.ignored {
				entries = h.Ignored()
			}
			found := false
			for _, e := range entries {
				if e.File == tc.file {
					found = true
					if !strings.Contains(e.Reason, tc.reason) {
						t.Errorf("reason for %s = %q, want it to contain %q", e.File, e.Reason, tc.reason)
					}
				}
			}
			if !found {
				t.Fatalf("%s not reported; refused=%v ignored=%v", tc.file, h.Refused(), h.Ignored())
			}
			if _, ok := h.Plugin("bystander"); !ok {
				t.Fatalf("the good plugin beside %s does not run; refused=%v", tc.file, h.Refused())
			}
			for _, p := range h.Plugins() {
				if p.File == tc.file {
					t.Fatalf("%s runs although it was refused", tc.file)
				}
			}
		})
	}
}

func TestFolderWritableByOthersIsRefused(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "good")
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := supervisor.Open(t.Context(), supervisor.Options{PluginDir: dir})
	if err == nil || !strings.Contains(err.Error(), "is writable by other users") {
		t.Fatalf("err = %v", err)
	}
}

// otherUID owns files in the tests of ownership: no account, not root, not us.
const otherUID = 54321

// chownOrSkip gives path to uid, which only root can do.
func chownOrSkip(t *testing.T, path string, uid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func TestFolderWritableByItsGroupOrOwnedByAnotherUserIsRefused(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "good")
	if err := os.Chmod(dir, 0o775); err != nil {
		t.Fatal(err)
	}
	_, err := supervisor.Open(t.Context(), supervisor.Options{PluginDir: dir})
	if err == nil || !strings.Contains(err.Error(), "is writable by its group (mode -rwxrwxr-x): refusing to run anything from it") {
		t.Fatalf("err = %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	chownOrSkip(t, dir, otherUID)
	_, err = supervisor.Open(t.Context(), supervisor.Options{PluginDir: dir})
	if err == nil || !strings.Contains(err.Error(), "is owned by uid 54321, neither root nor the user idplug runs as") {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingFolder(t *testing.T) {
	_, err := supervisor.Open(t.Context(), supervisor.Options{PluginDir: filepath.Join(t.TempDir(), "absent")})
	if err == nil || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("err = %v", err)
	}
}

// A file that claims another plugin's id (a hostile plugin, a stray copy) had
// both refused, taking the rightful plugin's connectors down with it. The file
// named for the id keeps it.
func TestTheFileNamedForAnIDKeepsIt(t *testing.T) {
	example := plugintest.Binary(t, examplePkg)
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, example, "example")
	plugintest.Install(t, dir, example, "zz-impostor")
	h := open(t, dir, supervisor.Options{StartTimeout: 30 * time.Second})
	p, ok := h.Plugin("example")
	if !ok || filepath.Base(p.Path()) != "idplug-connector-example" {
		t.Fatalf("example is served (%v) by %v; refused=%v", ok, p, h.Refused())
	}
	refused := false
	for _, e := range h.Refused() {
		refused = refused || e.File == "idplug-connector-zz-impostor"
	}
	if !refused {
		t.Fatalf("the impostor is not refused: %v", h.Refused())
	}
}
