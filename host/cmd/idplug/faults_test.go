package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/plugintest"
)

// retriable are the error codes a client may retry; every other failure fails the test.
var retriable = []string{"plugin_unavailable", "plugin_overloaded", "plugin_timeout"}

type signInResult struct {
	start, end time.Time
	ok         bool
	code       string
}

// TestFaults runs sign-ins from several goroutines through /v1 against the real OpenID
// provider while it SIGKILLs the plugin, replaces its binary, and drops a hanging
// plugin, a plugin that crashes at start and one with a bad checksum into the folder.
// Every request must be answered, with success or a retriable code, within its
// deadline; success must be back to 100% within a second of each fault; the host must
// never restart; and nothing may leak.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault test takes about a minute")
	}
	secret := oidctest.NewClientSecret(t)
	provider := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{
		ID: "acme", Secret: secret, AuthMethod: "client_secret_basic", RedirectURIs: []string{appRedirect},
	}}})
	dir := plugintest.Folder(t)
	oauth2Bin := plugintest.Binary(t, "./plugins/oauth2")
	misbehave := plugintest.Binary(t, "./host/testdata/misbehave")
	plugintest.Install(t, dir, oauth2Bin, "oauth2")
	sums := map[string]string{"idplug-connector-oauth2": plugintest.SHA256(t, oauth2Bin)}
	writeSums(t, dir, sums)

	p := startIdplug(t, dir, jsonConfig(t, []map[string]any{{"id": "acme", "plugin": "oauth2", "config": map[string]any{
		"authorizationEndpoint": provider.AuthorizationEndpoint(), "tokenEndpoint": provider.TokenEndpoint(),
		"userInfoEndpoint": provider.UserinfoEndpoint(), "clientId": "acme", "clientSecret": secret,
		"tokenEndpointAuthMethod": "client_secret_basic", "scope": "openid profile email", "profileMap": map[string]string{"id": "sub"},
	}}}))
	hostPID := p.cmd.Process.Pid
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	signIn := func() signInResult {
		r := signInResult{start: time.Now()}
		defer func() { r.end = time.Now() }()
		status, auth := postJSON(t, client, p.URL+"/v1/connectors/acme/authorization-uri", map[string]any{"redirectUri": appRedirect})
		if status != 200 {
			r.code = fmt.Sprint(jsonPath(auth, "code"))
			r.end = time.Now()
			return r
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cb, err := provider.Authorize(ctx, jsonPath(auth, "redirectTo").(string), appRedirect)
		if err != nil {
			r.code = "provider: " + err.Error()
			r.end = time.Now()
			return r
		}
		data := map[string]string{}
		for k, v := range cb.Query() {
			data[k] = v[0]
		}
		status, body := postJSON(t, client, p.URL+"/v1/connectors/acme/user-info", map[string]any{"session": jsonPath(auth, "session"), "data": data})
		r.ok = status == 200 && jsonPath(body, "userInfo", "id") == "alice"
		if !r.ok {
			r.code = fmt.Sprint(jsonPath(body, "code"))
		}
		r.end = time.Now()
		return r
	}

	// Warm up, then take the baseline for the leak checks.
	for range 3 {
		if r := signIn(); !r.ok {
			t.Fatalf("warm-up sign-in failed: %s", r.code)
		}
	}
	providerPort := portOf(t, provider.TokenEndpoint())
	before := p.resources(t, client, providerPort)

	// Load: workers sign in until told to stop (bounded by count and time).
	const workers = 4
	var (
		mu      sync.Mutex
		results []signInResult
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	successes := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range results {
			if r.ok {
				n++
			}
		}
		return n
	}
	// calm leaves one worker of the load once every fault is in: the folder's
	// rescan waits out the plugin that hangs at start (its start timeout, ten
	// seconds) before it sees the last one, and sign-ins must go on meanwhile,
	// but four workers would only keep the machine's cores full.
	calm := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if w > 0 {
					select {
					case <-calm:
						return
					default:
					}
				}
				r := signIn()
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}()
	}
	// waitSuccesses waits for n more successful sign-ins: the faults are spread out
	// by progress, not by sleeping.
	waitSuccesses := func(n int) {
		t.Helper()
		target := successes() + n
		deadline := time.Now().Add(60 * time.Second)
		for successes() < target {
			if time.Now().After(deadline) {
				t.Fatalf("sign-ins stalled at %d successes", successes())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	type fault struct {
		name string
		at   time.Time
	}
	var faults []fault
	// do makes the fault and returns when it struck: what it does first (such
	// as an HTTP call for the plugin's pid) can take a while on a loaded
	// machine, and sign-ins started meanwhile met no fault yet.
	inject := func(name string, do func() time.Time) {
		waitSuccesses(12)
		at := do()
		faults = append(faults, fault{name, at})
		t.Logf("fault: %s", name)
	}

	var killToSuccess, landToSuccess time.Duration
	inject("SIGKILL the plugin", func() time.Time {
		pid := p.pluginPID(t, client, "oauth2")
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// The next call through the API that succeeds, measured on its own.
		for {
			status, _ := postJSON(t, client, p.URL+"/v1/connectors/acme/authorization-uri", map[string]any{"redirectUri": appRedirect})
			if status == 200 {
				killToSuccess = time.Since(killed)
				break
			}
			if time.Since(killed) > 10*time.Second {
				t.Fatal("no successful call within 10s of the SIGKILL")
			}
		}
		return killed
	})
	inject("replace the plugin binary", func() time.Time {
		old := p.pluginPID(t, client, "oauth2")
		staging := plugintest.Install(t, t.TempDir(), oauth2Bin, "staging")
		landed := time.Now()
		if err := os.Rename(staging, filepath.Join(dir, "idplug-connector-oauth2")); err != nil {
			t.Fatal(err)
		}
		for p.pluginPID(t, client, "oauth2") == old {
			if time.Since(landed) > 15*time.Second {
				t.Fatal("the replaced binary was not picked up within 15s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if status, _ := postJSON(t, client, p.URL+"/v1/connectors/acme/authorization-uri", map[string]any{"redirectUri": appRedirect}); status != 200 {
			t.Fatalf("first call to the replaced plugin: %d", status)
		}
		landToSuccess = time.Since(landed)
		return landed
	})
	// The folder's first change is the fault: SHA256SUMS, then the binary.
	inject("a plugin that hangs at start", func() time.Time {
		sums["idplug-connector-hang-nohandshake"] = plugintest.SHA256(t, misbehave)
		at := time.Now()
		writeSums(t, dir, sums)
		moveInto(t, dir, misbehave, "idplug-connector-hang-nohandshake")
		return at
	})
	inject("a plugin that crashes at start", func() time.Time {
		sums["idplug-connector-crashstart"] = plugintest.SHA256(t, misbehave)
		at := time.Now()
		writeSums(t, dir, sums)
		moveInto(t, dir, misbehave, "idplug-connector-crashstart")
		return at
	})
	inject("a plugin with a bad checksum", func() time.Time {
		sums["idplug-connector-badsum"] = strings.Repeat("0", 64)
		at := time.Now()
		writeSums(t, dir, sums)
		moveInto(t, dir, misbehave, "idplug-connector-badsum")
		return at
	})
	close(calm)
	p.waitLog(t, "idplug-connector-badsum")
	p.waitLog(t, "timeout while waiting for plugin to start")
	waitSuccesses(12)
	close(stop)
	wg.Wait()

	// Every request was answered, in time, with success or a retriable code.
	total, ok := len(results), 0
	for _, r := range results {
		if r.ok {
			ok++
			continue
		}
		if !slices.Contains(retriable, r.code) {
			t.Errorf("a sign-in failed with %q, which is not retriable", r.code)
		}
	}
	for _, r := range results {
		if d := r.end.Sub(r.start); d > 12*time.Second {
			t.Errorf("a sign-in took %v, past its deadline", d)
		}
	}
	// Success is back to 100% within a second of each fault.
	for i, f := range faults {
		end := time.Now()
		if i+1 < len(faults) {
			end = faults[i+1].at
		}
		for _, r := range results {
			if r.start.After(f.at.Add(time.Second)) && r.start.Before(end) && !r.ok {
				t.Errorf("after %q: a sign-in started %v after the fault failed with %s", f.name, r.start.Sub(f.at), r.code)
			}
		}
	}
	// The host never restarted.
	if p.cmd.ProcessState != nil || syscall.Kill(hostPID, 0) != nil {
		t.Fatal("the host died")
	}
	if !strings.Contains(p.logs.String(), `"pid":`+strconv.Itoa(hostPID)) || strings.Count(p.logs.String(), "idplug is listening") != 1 {
		t.Fatal("the host restarted")
	}
	// Nothing leaked.
	client.CloseIdleConnections()
	after := p.waitResources(t, client, providerPort, before, workers)
	rate := float64(ok) / float64(total) * 100
	figures := fmt.Sprintf("fault test: %d sign-ins from %d goroutines, %.1f%% succeeded, the rest with retriable codes\n"+
		"SIGKILL of the plugin to the next successful call: %v\n"+
		"replacement binary landing in the folder to its first successful call: %v (includes the %v settle time)\n"+
		"before/after: %s / %s\n", total, workers, rate, killToSuccess.Round(time.Millisecond), landToSuccess.Round(time.Millisecond),
		500*time.Millisecond, before, after)
	t.Log(figures)
	writeArtifact(t, "faults.txt", figures)
}

// resources counts what must not leak: the host's goroutines and file descriptors,
// its plugin processes, and the socket files of its plugins. tunnels are the
// host's open connections to the provider: the egress proxy's tunnels, which
// the live plugin keeps as idle keep-alive connections (closed after two idle
// minutes), each with its goroutines and two descriptors.
type resources struct{ goroutines, fds, plugins, sockets, tunnels int }

func (r resources) String() string {
	return fmt.Sprintf("goroutines=%d fds=%d plugin processes=%d socket files=%d tunnels=%d", r.goroutines, r.fds, r.plugins, r.sockets, r.tunnels)
}

// Per egress tunnel, in the host: the connection's handler, a copy each way and
// the idle watchdog; the plugin's Unix connection and the provider's TCP one.
const tunnelGoroutines, tunnelFDs = 4, 2

func (p *idplugProc) resources(t *testing.T, client *http.Client, providerPort int) resources {
	t.Helper()
	pid := p.cmd.Process.Pid
	r := resources{tunnels: connectionsTo(pid, providerPort)}
	resp, err := client.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := regexp.MustCompile(`(?m)^go_goroutines (\d+)`).FindSubmatch(text); m != nil {
		r.goroutines, _ = strconv.Atoi(string(m[1]))
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	r.fds = len(fds)
	socketDirs := map[string]bool{}
	for _, child := range childrenOf(pid) {
		r.plugins++
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", child))
		for _, kv := range strings.Split(string(env), "\x00") {
			if d, ok := strings.CutPrefix(kv, "PLUGIN_UNIX_SOCKET_DIR="); ok {
				// Each plugin process has a folder of its own in the host's.
				socketDirs[filepath.Dir(d)] = true
			}
		}
	}
	for d := range socketDirs {
		perPlugin, _ := filepath.Glob(filepath.Join(d, "plugin-dir*", "*"))
		r.sockets += len(perPlugin)
	}
	return r
}

// waitResources waits for the counts to come back to the baseline (connections and
// drained plugins close asynchronously) and fails the test if they do not.
func (p *idplugProc) waitResources(t *testing.T, client *http.Client, providerPort int, before resources, workers int) resources {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		now := p.resources(t, client, providerPort)
		client.CloseIdleConnections()
		// The live plugin may keep one more idle connection to the provider for
		// each worker that signed in at the same time as another; each is a
		// tunnel of the proxy, not a leak. More than that is.
		extra := max(0, now.tunnels-before.tunnels)
		if now.goroutines <= before.goroutines+2+extra*tunnelGoroutines && now.fds <= before.fds+2+extra*tunnelFDs &&
			extra < workers && now.plugins == before.plugins && now.sockets == before.sockets {
			return now
		}
		if time.Now().After(deadline) {
			t.Errorf("leak: before %s, after %s", before, now)
			return now
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[0] != "Z" && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// connectionsTo counts pid's established TCP connections to port on the
// loopback (its socket descriptors, matched in the network namespace's table).
func connectionsTo(pid, port int) int {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	table, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	remote := fmt.Sprintf("0100007F:%04X", port)
	n := 0
	for _, line := range strings.Split(string(table), "\n")[1:] {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(line)
		if len(f) > 9 && f[2] == remote && f[3] == "01" && inodes[f[9]] {
			n++
		}
	}
	return n
}

// portOf is the port of an http:// URL.
func portOf(t *testing.T, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("%s: no port: %v", raw, err)
	}
	return port
}

// pluginPID reads a plugin's process id from /readyz.
func (p *idplugProc) pluginPID(t *testing.T, client *http.Client, id string) int {
	t.Helper()
	resp, err := client.Get(p.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = decodeJSON(resp.Body, &body)
	plugins, _ := body["plugins"].([]any)
	for _, pl := range plugins {
		if jsonPath(pl, "id") == id {
			pid, _ := jsonPath(pl, "pid").(float64)
			return int(pid)
		}
	}
	return 0
}

// writeSums replaces SHA256SUMS atomically.
func writeSums(t *testing.T, dir string, sums map[string]string) {
	t.Helper()
	var b strings.Builder
	for file, digest := range sums {
		fmt.Fprintf(&b, "%s  %s\n", digest, file)
	}
	tmp := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "SHA256SUMS")); err != nil {
		t.Fatal(err)
	}
}

// moveInto copies src beside the folder and renames it in: an atomic landing.
func moveInto(t *testing.T, dir, src, file string) {
	t.Helper()
	staging := plugintest.Install(t, t.TempDir(), src, "staging")
	if err := os.Rename(staging, filepath.Join(dir, file)); err != nil {
		t.Fatal(err)
	}
}

func writeArtifact(t *testing.T, name, text string) {
	root, err := plugintest.RepoRoot()
	if err != nil {
		return
	}
	dir := filepath.Join(root, "artifacts")
	if os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
}
