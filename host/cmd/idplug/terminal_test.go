package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// escapesPkg is a plugin whose metadata and configuration problems carry
// terminal control sequences and line breaks (see its doc comment).
const escapesPkg = "./host/cmd/idplug/testdata/escapes"

// controlChars lists the control characters of out other than newline and tab.
func controlChars(out string) []string {
	var found []string
	for _, r := range out {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			found = append(found, string(r))
		}
	}
	return found
}

// forgedLines are the lines of out the escapes plugin tries to forge.
func forgedLines(out string) []string {
	var found []string
	for _, line := range strings.Split(out, "\n") {
		if line == "Refused:" || strings.HasPrefix(line, "  idplug-connector-github:") {
			found = append(found, line)
		}
	}
	return found
}

// `idplug plugins` is how an operator checks a plugin folder before trusting
// it (docs/operators.md, "Check the folder and the configuration, then
// start"). It prints each plugin's metadata (id, name, description, readme,
// field labels) and the reasons plugins were refused to the terminal: a plugin
// can send escape sequences (OSC 52 sets the clipboard the operator pastes
// next, CSI clears the screen) and line breaks that forge lines of the
// listing. They are printed escaped; a readme keeps its lines.
func TestPluginsCommandPrintsNoTerminalEscapes(t *testing.T) {
	dir := plugintest.Folder(t)
	bin := plugintest.Binary(t, escapesPkg)
	plugintest.Install(t, dir, bin, "escapes")
	plugintest.Install(t, dir, bin, "escapes-badid")

	out, stderr, code := runPlugins(t, "--plugin-dir", dir)
	if code != 1 {
		t.Fatalf("exit %d with a refused plugin, want 1: %s", code, stderr)
	}
	for name, s := range map[string]string{"the listing": out, "stderr": stderr} {
		if c := controlChars(s); len(c) > 0 {
			t.Errorf("%s holds %d control characters from the plugins (%q):\n%q", name, len(c), c, s)
		}
	}
	for _, want := range []string{`Escapes\x1b[2J\x1b[H`,
		`idplug-connector-escapes-badid: plugin escapes-badid: metadata id "escapes\x1b]52;c;cHduZWQ=\a" does not match`} {
		if !strings.Contains(out, want) {
			t.Errorf("the listing does not show %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\nRefused:\n"); n != 1 {
		t.Errorf("%d Refused sections:\n%s", n, out)
	}

	// --json too: encoding/json escapes the C0 controls but writes C1 and the
	// bidirectional controls as they are.
	js, stderr, _ := runPlugins(t, "--plugin-dir", dir, "--plugin", "escapes", "--json")
	if c := controlChars(js); len(c) > 0 || strings.ContainsRune(js, '\u202e') {
		t.Errorf("--json prints %d control characters from the plugin's metadata (%q):\n%q", len(c), c, js)
	}
	var shown struct {
		Description map[string]string `json:"description"`
	}
	if err := json.Unmarshal([]byte(js), &shown); err != nil || shown.Description["fr"] != "Envoie\u009b2J\u202e" {
		t.Errorf("--json does not carry the description as sent (%v): %q\n%s", err, shown.Description["fr"], stderr)
	}

	out, stderr, code = runPlugins(t, "--plugin-dir", dir, "--plugin", "escapes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if c := controlChars(out); len(c) > 0 {
		t.Errorf("--plugin prints %d control characters from the plugin's metadata (%q):\n%q", len(c), c, out)
	}
	if f := forgedLines(out); len(f) > 0 {
		t.Errorf("the plugin's description forged lines %q:\n%s", f, out)
	}
	for _, want := range []string{`Sends control sequences.\nRefused:\n  idplug-connector-github`, `Label\x1b]52;c;cHduZWQ=\a\tcolumn`,
		"# Escapes\n\n" + `\x1b]52;c;cHduZWQ=\a\x1b[2J\x1b[H\r` + "\tindented"} {
		if !strings.Contains(out, want) {
			t.Errorf("--plugin does not show %q:\n%s", want, out)
		}
	}

	// Asked for by id, a refused plugin is named with the reason, escaped.
	_, stderr, code = runPlugins(t, "--plugin-dir", dir, "--plugin", "escapes-badid")
	want := `idplug plugins: plugin "escapes-badid" was refused: idplug-connector-escapes-badid: plugin escapes-badid: metadata id "escapes\x1b]52;c;cHduZWQ=\a" does not match`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("--plugin of a refused plugin: exit %d, stderr %q, want 1 and %q", code, stderr, want)
	}
	if c := controlChars(stderr); len(c) > 0 {
		t.Errorf("--plugin of a refused plugin prints %d control characters (%q)", len(c), c)
	}
}

// idplug validate (and idplug serve, which fails the same way) prints the
// problems a plugin finds in its instances' configuration: the same control
// sequences and forged lines would reach the operator's terminal.
func TestValidatePrintsNoTerminalEscapes(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, escapesPkg), "escapes")
	cfgPath := filepath.Join(t.TempDir(), "idplug.yaml")
	cfg := "plugin_dir: " + dir + "\nsession_keys: [\"" + testSessionKey + "\"]\n" +
		"connectors:\n  - id: x\n    plugin: escapes\n    config: {k: v}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(plugintest.Binary(t, "./host/cmd/idplug"), "validate", "--config", cfgPath)
	b, _ := cmd.CombinedOutput()
	out := string(b)
	for _, want := range []string{`config.k: is wrong\x1b]52;c;cHduZWQ=\a\x1b[2J\x1b[H`,
		`config.k\x1b[2J\x1b[H: is wrong too\nRefused:\n  idplug-connector-github`} {
		if !strings.Contains(out, want) {
			t.Errorf("the plugin's problem is not reported as %q:\n%s", want, out)
		}
	}
	if c := controlChars(out); len(c) > 0 {
		t.Errorf("idplug validate prints %d control characters a plugin sent (%q):\n%q", len(c), c, out)
	}
	if f := forgedLines(out); len(f) > 0 {
		t.Errorf("the plugin's problem forged lines %q:\n%s", f, out)
	}
}
