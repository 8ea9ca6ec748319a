package suite

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Serve is a running `idplug serve`.
type Serve struct {
	URL string
	PID int
	// APIKey may call the sign-in routes of /v1.
	APIKey string

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	tail []string // the last lines of its log, for error messages
}

// StartServe runs `bin serve` with a configuration serving the given connectors
// (objects of the config file's connectors list) from pluginDir, listening on a free
// loopback port, logging at logLevel (info, the default, writes one line per
// request). It returns once idplug answers /readyz; its log is read and dropped.
func StartServe(bin, pluginDir, workDir, logLevel string, connectors []map[string]any) (*Serve, error) {
	return StartServeWithStore(bin, pluginDir, workDir, logLevel, "off", connectors, nil)
}

// StartServeWithStore is StartServe with the store at storeURL: "off", or empty
// for the default (SQLite in workDir), as an operator's configuration has it, and
// extra top-level settings (replacing the benchmark's own of the same name).
func StartServeWithStore(bin, pluginDir, workDir, logLevel, storeURL string, connectors []map[string]any, extra map[string]any) (*Serve, error) {
	// A free port, found by listening on port 0 (at every log level, so idplug's
	// "listening" line cannot be relied on).
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	listen := lis.Addr().String()
	lis.Close()
	// /v1 is closed without a key: the benchmark's key may sign in, nothing more.
	apiKey := make([]byte, 32)
	_, _ = rand.Read(apiKey)
	settings := map[string]any{
		"api_keys":     []any{map[string]any{"key": hex.EncodeToString(apiKey), "scopes": []string{"signin"}}},
		"listen":       listen,
		"public_url":   "http://127.0.0.1:1",
		"plugin_dir":   pluginDir,
		"session_keys": []string{"${IDPLUG_SESSION_KEY}"},
		"log_format":   "json",
		"log_level":    logLevel,
		// Stateless: the /v1 case replays a pool of flows to compare the HTTP layer with
		// the same host calls, which single-use flows would refuse. The store's share of
		// a sign-in is measured with fresh flows by host/server's BenchmarkSignIn.
		"connectors": connectors,
	}
	for k, v := range extra {
		settings[k] = v
	}
	if storeURL != "" {
		settings["store"] = map[string]string{"url": storeURL}
	}
	cfg, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(workDir, "idplug.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cmd := exec.Command(bin, "serve", "--config", path)
	DieWithParent(cmd, syscall.SIGTERM)
	cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+hex.EncodeToString(key))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Serve{URL: "http://" + listen, APIKey: hex.EncodeToString(apiKey), cmd: cmd, PID: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if bytes.Contains(line, []byte(`"request"`)) {
				continue
			}
			s.mu.Lock()
			s.tail = append(s.tail, string(line))
			if len(s.tail) > 20 {
				s.tail = s.tail[1:]
			}
			s.mu.Unlock()
		}
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			_ = cmd.Wait()
			return nil, fmt.Errorf("idplug exited before it was ready:\n%s", s.Log())
		default:
		}
		if resp, err := client.Get(s.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("idplug was not ready within 60s:\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log returns the last lines idplug wrote, request lines left out.
func (s *Serve) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.tail, "\n")
}

// PluginPIDs lists the plugin processes idplug runs.
func (s *Serve) PluginPIDs() []int { return Children(s.PID) }

// Stop sends SIGTERM and waits for idplug to exit.
func (s *Serve) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	_ = s.cmd.Wait()
}

// V1 is a client of idplug's /v1 API.
type V1 struct {
	URL    string
	Key    string // the API key, sent as a bearer token
	Client *http.Client
	// Lean, when set, carries the requests instead of Client (see LeanClient).
	Lean *LeanClient
}

// Flow is a started sign-in: what the app keeps until the callback.
type Flow struct {
	Session string `json:"session"`
	State   string `json:"state"`
}

// Authorize starts a sign-in with connector id.
func (v *V1) Authorize(ctx context.Context, id string) (Flow, error) {
	var out struct {
		Flow
		RedirectTo string `json:"redirectTo"`
	}
	err := v.post(ctx, "/v1/connectors/"+id+"/authorization-uri", map[string]string{"redirectUri": RedirectURI}, &out)
	if err == nil && (out.Session == "" || out.State == "" || out.RedirectTo == "") {
		err = fmt.Errorf("authorization-uri: incomplete answer")
	}
	return out.Flow, err
}

// UserInfo completes the sign-in f with the callback's code and returns the user id.
func (v *V1) UserInfo(ctx context.Context, id string, f Flow, code string) (string, error) {
	var out struct {
		UserInfo struct {
			ID string `json:"id"`
		} `json:"userInfo"`
	}
	body := map[string]any{"session": f.Session, "data": map[string]string{"code": code, "state": f.State}}
	if err := v.post(ctx, "/v1/connectors/"+id+"/user-info", body, &out); err != nil {
		return "", err
	}
	return out.UserInfo.ID, nil
}

func (v *V1) post(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	if v.Lean != nil {
		status, data, err := v.Lean.Post(ctx, path, v.Key, b)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("POST %s: HTTP %d: %s", path, status, data)
		}
		return json.Unmarshal(data, out)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+v.Key)
	resp, err := v.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}
