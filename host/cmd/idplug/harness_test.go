package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/plugintest"
)

func TestMain(m *testing.M) {
	if cmd := os.Getenv(dumpableAfterEnv); cmd != "" {
		dumpableAfter(cmd)
	}
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

// idplugProc is an `idplug serve` process started by a test.
type idplugProc struct {
	URL        string
	apiKey     string // sent by call when it is given none: harnessAPIKey, when startIdplug added it
	configPath string
	cmd        *exec.Cmd
	logs       *syncBuffer
	done       chan struct{}
}

// syncBuffer collects idplug's log lines while the test reads them, and wakes
// those waiting for a line.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// waitFor returns once the log holds text, or fails the test after a while.
func (b *syncBuffer) waitFor(t *testing.T, text string) {
	t.Helper()
	if !b.comes(text, 20*time.Second) {
		t.Fatalf("no %q in the log within 20s:\n%s", text, b.String())
	}
}

// comes says whether the log holds text within d: idplug's lines reach the
// buffer through a pipe, after the answer of the request that logged them.
func (b *syncBuffer) comes(text string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), text) {
			b.mu.Unlock()
			return true
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const testSessionKey = "0123456789abcdef0123456789abcdef-test-key"

// pluginFolder builds the named bundled plugins into a fresh folder.
func pluginFolder(t *testing.T, plugins ...string) string {
	t.Helper()
	dir := plugintest.Folder(t)
	for _, p := range plugins {
		plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/"+p), p)
	}
	return dir
}

// startIdplug writes config (YAML; "PLUGIN_DIR" is replaced) and runs the real idplug
// binary on it until the test ends. It returns once idplug listens.
func startIdplug(t *testing.T, pluginDir, config string) *idplugProc {
	t.Helper()
	bin := plugintest.Binary(t, "./host/cmd/idplug")
	cfgPath := filepath.Join(t.TempDir(), "idplug.yaml")
	config, keyed := withHarnessKey(strings.ReplaceAll(config, "PLUGIN_DIR", pluginDir))
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+testSessionKey)
	p := runIdplug(t, cmd, cfgPath)
	if keyed {
		p.apiKey = harnessAPIKey
	}
	return p
}

// harnessAPIKey is the key startIdplug adds to a configuration that names no
// api_keys (/v1 is closed without one); call, postJSON, callQuiet and postQuiet send it.
const harnessAPIKey = "harness-0123456789abcdef0123456789abcdef"

// withHarnessKey adds api_keys: [harnessAPIKey] to a configuration without api_keys.
func withHarnessKey(config string) (string, bool) {
	if strings.Contains(config, "api_keys") {
		return config, false
	}
	if rest, ok := strings.CutPrefix(strings.TrimSpace(config), "{"); ok { // a JSON document
		return `{"api_keys":["` + harnessAPIKey + `"],` + rest, true
	}
	return strings.TrimRight(config, "\n") + "\napi_keys: [\"" + harnessAPIKey + "\"]\n", true
}

// runIdplug starts cmd, an `idplug serve`, and returns once it listens; the test
// stops it when it ends.
func runIdplug(t *testing.T, cmd *exec.Cmd, cfgPath string) *idplugProc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &idplugProc{cmd: cmd, configPath: cfgPath, logs: &syncBuffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "SCHED ") {
				continue // the Go runtime's, not idplug's log (internal/sysmon)
			}
			p.logs.WriteString(line + "\n")
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["@message"] == "idplug is listening" {
				addr <- entry["address"].(string)
			}
		}
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case <-p.done:
		_ = cmd.Wait()
		t.Fatalf("idplug exited before listening:\n%s", p.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("idplug did not listen within 30s:\n%s", p.logs)
	}
	return p
}

// waitLog waits for a log line containing text.
func (p *idplugProc) waitLog(t *testing.T, text string) { t.Helper(); p.logs.waitFor(t, text) }

// stop sends SIGTERM and waits for a clean exit.
func (p *idplugProc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("idplug exited with %v:\n%s", err, p.logs)
	}
}

// call sends a JSON request to idplug and decodes the JSON answer.
func (p *idplugProc) call(t *testing.T, method, path, apiKey string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, p.URL+path, r)
	if apiKey == "" {
		apiKey = p.apiKey
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if len(data) > 0 && json.Unmarshal(data, &out) != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, data)
	}
	return resp.StatusCode, out
}

func jsonPath(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// postJSON posts a JSON body and decodes the JSON answer; any transport failure
// (no answer at all) fails the test.
func postJSON(t *testing.T, client *http.Client, url string, body any) (int, map[string]any) {
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+harnessAPIKey)
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("POST %s: no answer: %v", url, err)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = decodeJSON(resp.Body, &out)
	return resp.StatusCode, out
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
