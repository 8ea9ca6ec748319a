package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/idplug/idplug/internal/plugintest"

	"github.com/idplug/idplug/bench/internal/stub"
	"github.com/idplug/idplug/bench/internal/suite"
	"github.com/idplug/idplug/host"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
)

// stubMain runs the stub provider on a free loopback port and prints
// "listening <address>" when it is ready. It runs until killed.
func stubMain() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	fmt.Println("listening", lis.Addr().String())
	fatal((&stub.Provider{}).Serve(lis))
}

// stubProc is the stub provider's process.
type stubProc struct {
	URL string
	PID int
	cmd *exec.Cmd
}

func startStub() (*stubProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "stub")
	suite.DieWithParent(cmd, syscall.SIGKILL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("stub provider did not start: %q %v", line, err)
	}
	return &stubProc{URL: "http://" + addr, PID: cmd.Process.Pid, cmd: cmd}, nil
}

func (s *stubProc) Stats() (stub.Stats, error) {
	var st stub.Stats
	resp, err := suite.NewHTTPClient().Get(s.URL + "/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

func (s *stubProc) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// rssResult is what `idplug-bench rss` prints.
type rssResult struct {
	Instances int `json:"instances"`
	// HostKiB and PluginKiB are the resident memory (VmRSS) of the host and of the
	// oauth2 plugin, instances configured with Host.Configure and called once each.
	HostKiB   int `json:"host_kib"`
	PluginKiB int `json:"plugin_kib"`
	// Diagnostics. HostLiveKiB is the host's live heap after a collection;
	// HostFreedKiB its resident memory after debug.FreeOSMemory. PluginSeqKiB is the
	// resident memory of another plugin process that was handed the same instances
	// one call at a time (a bare go-plugin client), not all at once as
	// Host.Configure does.
	HostLiveKiB  int `json:"host_live_heap_kib"`
	HostFreedKiB int `json:"host_kib_after_free"`
	PluginSeqKiB int `json:"plugin_kib_sequential"`
}

// rssMain is a host process of its own (so that its memory is only a host's): it
// runs the oauth2 plugin with n configured instances, makes one call to each (the
// plugin parses and caches an instance's configuration on its first call), waits a
// second, and prints the resident memory of itself and of the plugin as JSON.
func rssMain(args []string) {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	n := fs.Int("n", 1, "instances")
	plugin := fs.String("plugin", "", "the oauth2 plugin executable")
	stubURL := fs.String("stub", "http://127.0.0.1:9", "the provider's base URL")
	_ = fs.Parse(args)

	dir, err := os.MkdirTemp("", "idplug-bench-rss-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := suite.PluginFolder(dir, *plugin, "oauth2"); err != nil {
		fatal(err)
	}
	ctx := context.Background()
	h, err := host.Open(ctx, host.Options{PluginDir: dir})
	if err != nil {
		fatal(err)
	}
	defer h.Close()
	base := suite.ConnectorConfig(*stubURL)
	cfgs := make([]host.InstanceConfig, *n)
	for i := range cfgs {
		c := make(map[string]any, len(base))
		for k, v := range base {
			c[k] = v
		}
		c["clientId"] = fmt.Sprintf("bench-client-%05d", i)
		raw, _ := json.Marshal(c)
		cfgs[i] = host.InstanceConfig{ID: fmt.Sprintf("i%05d", i), Plugin: "oauth2", Config: raw}
	}
	if err := h.Configure(ctx, cfgs); err != nil {
		fatal(err)
	}
	for _, c := range cfgs {
		if _, err := h.AuthorizationURI(ctx, c.ID, suite.RedirectURI, "state"); err != nil {
			fatal(err)
		}
	}
	time.Sleep(time.Second)
	p, ok := h.Plugin("oauth2")
	if !ok {
		fatal(fmt.Errorf("the oauth2 plugin does not run"))
	}
	var r rssResult
	r.Instances = *n
	if r.HostKiB, err = suite.ResidentKiB(os.Getpid()); err != nil {
		fatal(err)
	}
	if r.PluginKiB, err = suite.ResidentKiB(p.PID()); err != nil {
		fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HostLiveKiB = int(ms.HeapAlloc >> 10)
	debug.FreeOSMemory()
	if r.HostFreedKiB, err = suite.ResidentKiB(os.Getpid()); err != nil {
		fatal(err)
	}
	if r.PluginSeqKiB, err = sequentialPluginRSS(*plugin, base, *n); err != nil {
		fatal(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

// sequentialPluginRSS starts the plugin with a bare go-plugin client, hands it n
// instances one call at a time, and returns its resident memory.
func sequentialPluginRSS(plugin string, base map[string]any, n int) (int, error) {
	bare, err := plugintest.StartBare(plugin)
	if err != nil {
		return 0, err
	}
	defer bare.Close()
	ctx := context.Background()
	for i := range n {
		c := make(map[string]any, len(base))
		for k, v := range base {
			c[k] = v
		}
		c["clientId"] = fmt.Sprintf("bench-client-%05d", i)
		raw, _ := json.Marshal(c)
		sum := sha256.Sum256(raw)
		_, err := bare.Client.GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{
			Instance:    &connectorv1.Instance{Id: fmt.Sprintf("i%05d", i), ConfigVersion: hex.EncodeToString(sum[:16]), Config: raw},
			RedirectUri: suite.RedirectURI, State: "state"})
		if err != nil {
			return 0, err
		}
	}
	time.Sleep(time.Second)
	return suite.ResidentKiB(bare.PID)
}

// measureRSS runs `idplug-bench rss` for n instances.
func measureRSS(plugin, stubURL string, n int) (rssResult, error) {
	var r rssResult
	self, err := os.Executable()
	if err != nil {
		return r, err
	}
	cmd := exec.Command(self, "rss", "-n", fmt.Sprint(n), "-plugin", plugin, "-stub", stubURL)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return r, fmt.Errorf("rss -n %d: %w", n, err)
	}
	err = json.Unmarshal(out, &r)
	return r, err
}
