package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// browserSignInWith signs a browser in with connector id of exampleConfig.
func browserSignInWith(t *testing.T, p *idplugProc, id string) *http.Cookie {
	t.Helper()
	resp, _ := get(t, p.URL+"/sign-in/"+id)
	mustEqual(t, "sign-in status", resp.StatusCode, 302)
	flowCookie := setCookie(t, resp, "idplug_flow")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	resp, _ = get(t, p.URL+"/callback/"+id+"?code=ada&state="+url.QueryEscape(loc.Query().Get("state")), flowCookie)
	mustEqual(t, "callback status", resp.StatusCode, 302)
	session := setCookie(t, resp, "idplug_session")
	if !signedIn(t, p, session) {
		t.Fatalf("not signed in with %s", id)
	}
	return session
}

// A reload that comes while the file is being written in place (truncated,
// then written in pieces) reads it once the writer is done. The first piece
// alone is a valid file without the second connector: applied, it had
// removed "other" (and signed its browsers out for good), then the next
// reload had put it back.
func TestReloadReadsAFileBeingWrittenOnceItIsDone(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig)
	whole := strings.ReplaceAll(exampleConfig, "PLUGIN_DIR", dir)
	cut := strings.Index(whole, "  - id: other\n")
	session := browserSignInWith(t, p, "other")

	f, err := os.OpenFile(p.configPath, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(whole[:cut]); err != nil {
		t.Fatal(err)
	}
	// The writer is at work: it keeps changing the file (here its times,
	// which change its inode as a write does) until idplug says it waits.
	settled := keepChanging(p.configPath)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "the configuration file changed just now")
	// The rest is written while the writer is still at work, so that however
	// long this machine takes, idplug never sees the file cut short and still.
	if _, err := f.WriteString(whole[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	settled()
	p.waitLog(t, "configuration reloaded")
	if strings.Contains(p.logs.String(), `"connectors":1`) {
		t.Errorf("the reload applied the file cut short:\n%s", p.logs)
	}
	p.wantConnectors(t, 2)
	if !signedIn(t, p, session) {
		t.Error("a browser signed in with the connector the file's second half holds was signed out")
	}
}

// A reload that comes while a secret file is being written in place
// (truncated, then written in pieces) reads it once the writer is done: the
// reload had read the first piece, and the connector sent browsers to their
// provider with a client id cut short until the next reload.
func TestReloadReadsASecretFileBeingWrittenOnceItIsDone(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "client-id")
	if err := os.WriteFile(secret, []byte("other-client\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, strings.Replace(exampleConfig, "clientId: other-client", "clientId: ${file:"+secret+"}", 1))
	mustEqual(t, "client id at start", clientIDOf(t, p, "other"), "other-client")

	f, err := os.OpenFile(secret, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("rotated-"); err != nil {
		t.Fatal(err)
	}
	// The writer is at work until idplug says it waits for the file.
	settled := keepChanging(secret)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, `a secret file (${file:}) changed just now`)
	if _, err := f.WriteString("client\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	settled()
	p.waitLog(t, "configuration reloaded")
	mustEqual(t, "client id after the reload", clientIDOf(t, p, "other"), "rotated-client")
	if !strings.Contains(p.logs.String(), `"file":"`+secret+`"`) {
		t.Errorf("the log does not name the file it waited for:\n%s", p.logs)
	}
}

// A file left empty (truncated, and its writer gone) is refused, saying so
// rather than listing what an empty file lacks; the running configuration
// keeps serving.
func TestReloadRefusesAnEmptyFileSayingSo(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig)
	if err := os.Truncate(p.configPath, 0); err != nil {
		t.Fatal(err)
	}
	status, body := p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload status", status, 400)
	if msg, _ := jsonPath(body, "message").(string); !strings.Contains(msg, p.configPath+" is empty") {
		t.Errorf("message = %q; want it to say the file is empty", msg)
	}
	p.wantConnectors(t, 2)
}

// A reload asked for by a client that does not wait for the answer (its
// timeout ran out while the file settled) is applied all the same: it had
// been refused midway with "context canceled", as though the file were at
// fault, and the old configuration kept serving.
func TestReloadAskedByAClientThatLeavesIsApplied(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig)
	p.rewrite(t, dir, strings.Replace(exampleConfig, "greeting: Hi", "greeting: Howdy", 1))
	// The file keeps changing (its times) until the client has left: the
	// reload waits for it to settle meanwhile, however slow this machine is.
	settled := keepChanging(p.configPath)
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "POST", p.URL+"/v1/admin/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	p.waitLog(t, "the configuration file changed just now")
	cancel()
	<-done
	settled()
	p.waitLog(t, "configuration reloaded")
	if strings.Contains(p.logs.String(), "configuration reload refused") {
		t.Errorf("the reload was refused when its client left:\n%s", p.logs)
	}
}

// keepChanging changes path's times (which change its inode as a write does)
// every 50 ms until the function it returns is called, as a writer at work
// would: however slow the machine, idplug never sees the file still meanwhile.
func keepChanging(path string) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				_ = os.Chtimes(path, now, now)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
