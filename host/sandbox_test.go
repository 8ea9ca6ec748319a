package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/logtest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// In mode required, a kernel that cannot apply the whole sandbox starts no plugin.
// ABILimit pretends the kernel has Landlock ABI 3 (no TCP bind rule, no scopes);
// this machine's kernel has everything.
func TestRequiredModeRefusesAnIncompleteSandbox(t *testing.T) {
	requireFullSandbox(t)
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	h := open(t, dir, host.Options{Sandbox: sandbox.Policy{Mode: sandbox.ModeRequired, ABILimit: 3}})
	if len(h.Plugins()) != 0 {
		t.Fatalf("a plugin started without its whole sandbox: %+v", h.Plugins())
	}
	reason := refusedReason(h, "idplug-connector-example")
	for _, want := range []string{"sandbox mode is required", sandbox.FeatureBind, sandbox.FeatureScopes, sandbox.FeatureConnect, "kernel has 3"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	st := h.Status().Sandbox
	if st.Mode != sandbox.ModeRequired || len(st.Missing) != 3 || st.LandlockABI != 3 {
		t.Errorf("status = %+v", st)
	}

	// The same folder with the real kernel: everything applies, the plugin starts.
	h = open(t, dir, host.Options{Sandbox: sandbox.Policy{Mode: sandbox.ModeRequired}})
	if len(h.Plugins()) != 1 || len(h.Status().Sandbox.Missing) != 0 {
		t.Fatalf("plugins = %+v, sandbox = %+v, refused = %v", h.Plugins(), h.Status().Sandbox, h.Refused())
	}
}

// A policy set in code with a misspelt mode or a lone "*" key fails closed: the
// host starts, starts no plugin, and says why, naming what is wrong; it never
// runs a plugin less confined than the mode meant.
func TestSandboxPolicyTypoStartsNoPlugin(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	for _, c := range []struct {
		policy sandbox.Policy
		want   string
	}{
		{sandbox.Policy{Mode: "requierd"}, `sandbox mode "requierd" is not one of auto, required, off`},
		{sandbox.Policy{Mode: "of"}, `sandbox mode "of"`},
		{sandbox.Policy{Read: map[string][]string{"*": {"/etc"}}}, `sandbox read key "*" names every plugin`},
		{sandbox.Policy{Exec: map[string][]string{"*": {"/bin"}}}, `sandbox exec key "*" names every plugin`},
	} {
		logs := logtest.New()
		h := open(t, dir, host.Options{Sandbox: c.policy, Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: logs})})
		if len(h.Plugins()) != 0 {
			t.Errorf("policy %+v: a plugin started: %+v", c.policy, h.Plugins())
		}
		if reason := refusedReason(h, "idplug-connector-example"); !strings.Contains(reason, c.want) {
			t.Errorf("policy %+v: refused because %q, want %q", c.policy, reason, c.want)
		}
		if !strings.Contains(logs.String(), "[ERROR] plugins cannot start: "+c.want) {
			t.Errorf("policy %+v: the host did not say why plugins cannot start:\n%s", c.policy, logs)
		}
	}
}

// In mode auto, an older kernel gives what it can, and the host says what is
// missing at WARN and in its status.
func TestAutoModeAppliesWhatTheKernelHasAndSaysWhatNot(t *testing.T) {
	requireFullSandbox(t)
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, hostilePkg), "hostile")
	logs := logtest.New()
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: logs})
	h := open(t, dir, host.Options{Logger: log, Sandbox: sandbox.Policy{ABILimit: 3}})
	if !strings.Contains(logs.String(), "[WARN]  plugins run with a partial sandbox") || !strings.Contains(logs.String(), sandbox.FeatureBind) ||
		!strings.Contains(logs.String(), sandbox.FeatureConnect) {
		t.Errorf("no warning about the missing restrictions:\n%s", logs)
	}
	st := h.Status().Sandbox
	if st.Mode != sandbox.ModeAuto || !st.Has(sandbox.FeatureFS) || !st.Has(sandbox.FeatureSeccomp) || len(st.Missing) != 3 {
		t.Fatalf("status = %+v", st)
	}
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"read": map[string]string{"key file": key}})
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "h", Plugin: "hostile", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	auth, err := h.AuthorizationURI(context.Background(), "h", "https://app.test/cb", "s")
	if err != nil {
		t.Fatal(err)
	}
	got := auth.Session
	// ABI 3 confines the file system, and seccomp still applies; TCP bind and
	// signals are what ABI 3 lacks.
	for what, want := range map[string]string{
		"deny:read key file": "denied", "deny:ptrace host": "denied",
		"deny:bind tcp": "allowed", "deny:signal host": "allowed",
	} {
		if !strings.HasPrefix(got[what], want) {
			t.Errorf("%s = %q, want %s", what, got[what], want)
		}
	}
}

// waitLog waits until every want is in the log.
func waitLog(t *testing.T, logs *logtest.Log, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	logs.AwaitAll(ctx, t, want...)
}

func logHost(t *testing.T, mode string) (*host.Host, *logtest.Log) {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	logs := logtest.New()
	log := hclog.New(&hclog.LoggerOptions{Name: "idplug", Level: hclog.Info, Output: logs})
	h := open(t, dir, host.Options{Logger: log, CallTimeout: time.Minute})
	cfg := json.RawMessage(`{"mode":"` + mode + `","lines":100000}`)
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "m", Plugin: "misbehave", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	return h, logs
}

// A plugin's lines reach the host's log at their own level, with the plugin's name.
func TestPluginLogLinesKeepTheirLevel(t *testing.T) {
	h, logs := logHost(t, "logs")
	if _, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs,
		"[WARN]  idplug.plugin.misbehave.idplug-connector-misbehave: misbehave warning line: instance=m",
		"[ERROR] idplug.plugin.misbehave.idplug-connector-misbehave: misbehave error line: instance=m",
		"[INFO]  idplug.plugin.misbehave.idplug-connector-misbehave: misbehave info line")
	if strings.Contains(logs.String(), "misbehave debug line") {
		t.Errorf("a debug line passed log level info:\n%s", logs)
	}
}

// A plugin is the first process of its PID namespace: a child it detached (in
// a session of its own) ends with it, where it would otherwise outlive the
// plugin's restart, its removal and the host.
func TestDetachedChildrenEndWithThePlugin(t *testing.T) {
	requireFullSandbox(t)
	h, _ := logHost(t, "orphan")
	if _, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
	var plugin int
	for _, p := range h.Plugins() {
		if p.Metadata.ID == "misbehave" {
			plugin = p.PID
		}
	}
	// For a host that is not root, the plugin's pid is the launcher's outer
	// step, and the plugin its child: every process below it must end.
	children := descendantsOf(t, plugin)
	if plugin == 0 || len(children) == 0 {
		t.Fatalf("plugin pid %d, children %v", plugin, children)
	}
	t.Cleanup(func() {
		for _, c := range children {
			_ = syscall.Kill(c, syscall.SIGKILL) // when the test failed: nothing left behind
		}
	})
	// A child left alive holds the plugin's stdout and stderr, and go-plugin
	// waits for them to close: without the namespace, Close never returned.
	closed := make(chan error, 1)
	go func() { closed <- h.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("closing the host hangs: the plugin's detached child holds its pipes")
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, c := range children {
		for processExists(c) {
			if time.Now().After(deadline) {
				t.Fatalf("the plugin's detached child %d outlived it", c)
			}
			time.Sleep(20 * time.Millisecond) // polling the process table: no event says a process ended
		}
	}
}

// descendantsOf lists the processes below pid, from /proc.
func descendantsOf(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so count from its end.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 {
			if ppid, err := strconv.Atoi(fields[1]); err == nil {
				children[ppid] = append(children[ppid], n)
			}
		}
	}
	var out []int
	for next := children[pid]; len(next) > 0; {
		c := next[0]
		next = append(next[1:], children[c]...)
		out = append(out, c)
	}
	return out
}

// processExists says whether pid names a process that has not been reaped.
func processExists(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// go-plugin's client opens every plugin's broker stream and, for each message
// on it, starts a goroutine kept five seconds or keeps an entry for good: a
// plugin streaming small messages would fill the host's memory. The host reads
// and drops what comes there (its plugins never use the broker), and its
// goroutines stay where they were through 100,000 messages.
func TestBrokerFloodIsDropped(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./host/testdata/brokerflood"), "brokerflood")
	h := open(t, dir, host.Options{CallTimeout: 2 * time.Minute})
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "flood", Plugin: "brokerflood", Config: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	// It answers once the flood is sent; gRPC's flow control means the host
	// has read all of it but the last window by then.
	if _, err := h.AuthorizationURI(context.Background(), "flood", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
	if after := runtime.NumGoroutine(); after > before+1000 {
		t.Fatalf("the host went from %d to %d goroutines", before, after)
	}
	if _, err := h.AuthorizationURI(context.Background(), "flood", "https://app.test/cb", "s"); err != nil {
		t.Fatalf("the plugin no longer serves: %v", err)
	}
}

// go-plugin reads a plugin's stderr lines as hclog JSON and asserts their
// @message, @level and @timestamp to be strings: a plugin (or the Node an npm
// connector runs) writing {"@message":1} would panic the host's goroutine, and
// the whole host with it, at every start. The host turns such values into
// strings first; the lines reach the log, and the plugin keeps serving.
func TestStderrLinesCannotCrashTheHost(t *testing.T) {
	h, logs := logHost(t, "rawstderr")
	for range 2 {
		if _, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s"); err != nil {
			t.Fatal(err)
		}
	}
	// A level or a timestamp go-plugin cannot read makes the line text, at
	// debug level (not shown here).
	waitLog(t, logs,
		"[WARN]  idplug.plugin.misbehave.idplug-connector-misbehave: 1: n=1",
		"[WARN]  idplug.plugin.misbehave.idplug-connector-misbehave: null: n=3",
		`[WARN]  idplug.plugin.misbehave.idplug-connector-misbehave: {"then":"an object"}: n=5`)
}

// A panic outside any call kills the plugin; its message and stack reach the log
// at ERROR, and the plugin is restarted.
func TestPluginPanicStackIsLoggedAsAnError(t *testing.T) {
	h, logs := logHost(t, "crash")
	_, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s")
	if err == nil {
		t.Fatal("the crashing call succeeded")
	}
	waitLog(t, logs,
		"[ERROR] idplug.plugin.misbehave.idplug-connector-misbehave: panic: misbehave crash outside a call",
		"[ERROR] idplug.plugin.misbehave.idplug-connector-misbehave: goroutine ")
}

// A plugin that floods its log is never blocked by it: its call returns, the
// lines over the limit are dropped and counted in one line, and the warning and
// error after the flood still arrive at their level.
func TestPluginLogFloodDoesNotBlockOrLoseLevels(t *testing.T) {
	h, logs := logHost(t, "flood")
	if _, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s"); err != nil {
		t.Fatalf("the flooding call failed: %v", err)
	}
	waitLog(t, logs,
		"[WARN]  idplug.plugin.misbehave.idplug-connector-misbehave: misbehave warning after the flood",
		"[ERROR] idplug.plugin.misbehave.idplug-connector-misbehave: misbehave error after the flood",
		"[INFO]  idplug.plugin.misbehave.idplug-connector-misbehave: plugin log lines dropped")
	// Every line is either written or counted in a "dropped" line (one per
	// second of flood).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var written, dropped int
	logs.Await(ctx, t, func(s string) bool {
		written, dropped = strings.Count(s, "misbehave flood line"), 0
		for _, line := range strings.Split(s, "\n") {
			if _, n, ok := strings.Cut(line, "plugin log lines dropped"); ok {
				_, n, _ = strings.Cut(n, "info=")
				n, _, _ = strings.Cut(n, " ")
				k, _ := strconv.Atoi(n)
				dropped += k
			}
		}
		return written+dropped == 100000 && written > 0 && dropped > 0
	}, func() string {
		return fmt.Sprintf("%d flood lines written and %d counted as dropped, of 100000", written, dropped)
	})
}

// A reply over the size limit fails the call with an error naming the plugin, and
// the plugin keeps serving.
func TestOversizedReplyIsRefused(t *testing.T) {
	h, _ := logHost(t, "bigreply")
	_, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s")
	if err == nil || !strings.Contains(err.Error(), "plugin misbehave sent a reply to GetAuthorizationUri larger than the limit of 4194304 bytes") {
		t.Fatalf("err = %v", err)
	}
}

// A plugin that answers its calls in flight with replies near the limit holds
// a bounded share of the host's memory: past the reply budget's 16 calls at
// full size, a call takes a reply of 256 KiB at most. Every call is in the
// plugin before any answer leaves it, so each had its limit when the replies
// came.
func TestRepliesInFlightAreBounded(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, host.Options{CallTimeout: time.Minute})
	const calls = process.DefaultReplyBudget/process.MaxReplySize + 4
	cfg := json.RawMessage(fmt.Sprintf(`{"mode":"heldreply","calls":%d}`, calls))
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "m", Plugin: "misbehave", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() {
			var a *sdk.Authorization
			a, errs[i] = h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s")
			if errs[i] == nil && len(a.RedirectTo) < 1<<20 {
				t.Errorf("a URL of %d bytes", len(a.RedirectTo))
			}
		})
	}
	wg.Wait()
	answered, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			answered++
		case strings.Contains(err.Error(), "plugin misbehave sent a reply to GetAuthorizationUri larger than the limit of 262144 bytes, "+
			"a call's limit while its calls in flight hold the 67108864 bytes its replies may take at full size"):
			refused++
		default:
			t.Errorf("err = %v", err)
		}
	}
	if answered != calls-4 || refused != 4 {
		t.Fatalf("%d calls answered and %d refused, want %d and 4", answered, refused, calls-4)
	}
	// The budget came back: a call now gets its reply of 1 MiB.
	if _, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
}

// The headers and trailers of a reply are bounded apart from it (64 KiB each):
// each call in flight holds its reply's until it ends. A plugin passing them
// fails that call only.
func TestOversizedHeadersAreRefused(t *testing.T) {
	for _, mode := range []string{"bigheader", "bigtrailer"} {
		t.Run(mode, func(t *testing.T) {
			h, _ := logHost(t, mode)
			_, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s")
			if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeGeneral ||
				!strings.HasPrefix(e.Message, "plugin misbehave failed GetAuthorizationUri: Internal: ") || !strings.Contains(e.Message, "INTERNAL_ERROR") {
				t.Fatalf("err = %v", err)
			}
			// The plugin serves on: its other calls are answered.
			if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "m", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"ok"}`)}}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A plugin's error goes on to API answers, error pages and the host's own log
// lines: within the reply limit it can still be megabytes, with a code of any
// shape. The host keeps what a person reads.
func TestPluginErrorsAreBounded(t *testing.T) {
	h, _ := logHost(t, "bigerror")
	_, err := h.AuthorizationURI(context.Background(), "m", "https://app.test/cb", "s")
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	if e.Code != sdk.CodeGeneral || len(e.Message) > 1100 || !strings.HasPrefix(e.Message, "éé") ||
		!strings.HasSuffix(e.Message, "more bytes)") || !utf8.ValidString(e.Message) || e.Details != nil {
		t.Errorf("code %q, message of %d bytes ending %q, details of %d keys", e.Code, len(e.Message), e.Message[max(0, len(e.Message)-40):], len(e.Details))
	}

	// And its problems with a configuration, which a reload reports.
	err = h.Configure(context.Background(), []host.InstanceConfig{{ID: "p", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"bigproblems"}`)}})
	var verr *host.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v", err)
	}
	more := slices.IndexFunc(verr.Problems, func(p host.Problem) bool { return strings.Contains(p.Message, "and 936 more problems") })
	if n := len(verr.Problems); n != 65 || more < 0 {
		t.Fatalf("%d problems, the count of those left out at %d", n, more)
	}
	if size := len(err.Error()); size > 100<<10 {
		t.Errorf("the reload's error is %d bytes", size)
	}
}

// The rule itself, for ids a plugin without the SDK could send too (the SDK
// refuses an empty one before it leaves the plugin).
func TestCheckUserID(t *testing.T) {
	for id, ok := range map[string]bool{
		"": false, "u-1": true, "a\x00b": false, "a\tb": false, "a\u007fb": false, "\xff": false,
		strings.Repeat("é", host.MaxUserIDLen/2): true, strings.Repeat("u", host.MaxUserIDLen+1): false,
		"user@example.com": true, "12345": true, "a/b c": true,
	} {
		if err := host.CheckUserID(id); (err == nil) != ok {
			t.Errorf("CheckUserID(%.40q) = %v", id, err)
		}
	}
}

// A profile's id keys its sessions and tokens in the store: one no provider
// gives (a NUL, which PostgreSQL refuses in a statement that also writes
// other sign-ins' tokens; a control character; a megabyte) fails its own
// sign-in, naming the connector, and nothing else.
func TestProfileIDsAreChecked(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, host.Options{CallTimeout: time.Minute})
	ids := map[string]string{
		"nul": "a\x00b", "newline": "ann\nadmin", "escape": "\x1b[31m", "del": "a\x7f",
		"too long": strings.Repeat("u", host.MaxUserIDLen+1),
		"longest":  strings.Repeat("u", host.MaxUserIDLen), "unicode": "José-東京-42",
	}
	var configs []host.InstanceConfig
	for name, id := range ids {
		raw, _ := json.Marshal(map[string]string{"id": id})
		configs = append(configs, host.InstanceConfig{ID: strings.ReplaceAll(name, " ", "-"), Plugin: "misbehave", Config: raw})
	}
	if err := h.Configure(context.Background(), configs); err != nil {
		t.Fatal(err)
	}
	for name, id := range ids {
		instance := strings.ReplaceAll(name, " ", "-")
		res, err := h.UserInfo(context.Background(), instance, sdk.Session{}, map[string]string{"code": "c"})
		if name == "longest" || name == "unicode" {
			if err != nil || res.UserInfo.ID != id {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInvalidResponse || !strings.Contains(e.Message, "connector "+instance+" (plugin misbehave): the profile's id") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The mapping's dry run answers as a sign-in with that profile would: a
// mapped id the store cannot key (here a provider id within the limit that the
// mapping's prefix takes past it) fails both, where the dry run had answered
// 200 with it.
func TestDryRunRefusesTheIDsASignInRefuses(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	h := open(t, dir, host.Options{})
	m, err := mapping.Compile(mapping.Spec{Fields: map[string]string{"id": `"ex-" + raw.sub`}, AllowIDChange: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "mapped", Plugin: "example", Config: exampleConfig("Hi"), Mapping: m}}); err != nil {
		t.Fatal(err)
	}
	code := strings.Repeat("u", host.MaxUserIDLen-1) // the example plugin's id is the code
	auth, err := h.AuthorizationURI(ctx, "mapped", "https://app.test/cb", "s1")
	if err != nil {
		t.Fatal(err)
	}
	_, signInErr := h.UserInfo(ctx, "mapped", auth.Session, map[string]string{"code": code, "state": "s1"})
	raw, _ := json.Marshal(map[string]string{"sub": code})
	res, dryErr := h.MapUserInfo(ctx, "mapped", sdk.UserInfo{ID: code, Name: sdk.String("Hi, " + code), RawData: raw})
	for name, err := range map[string]error{"sign-in": signInErr, "dry run": dryErr} {
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInvalidResponse || !strings.Contains(e.Message, "the profile's id is 514 bytes") {
			t.Errorf("%s: %v (mapped id of %d bytes)", name, err, len(res.UserInfo.ID))
		}
	}
}

// A socket folder left by a host that was killed is removed by the next host of
// the same user; one whose host still runs, or that has no owner, stays.
func TestStaleSocketFoldersAreRemoved(t *testing.T) {
	mk := func(owner string) string {
		dir, err := os.MkdirTemp(host.SocketBase(), "idplug-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		if owner != "" {
			if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(dir, "plugin-dir1"), 0o700); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// A pid no process can have (above pid_max), and a live pid with another start time.
	gone := mk("2147483647 12345\n")
	reused := mk(strconv.Itoa(os.Getpid()) + " 1\n")
	stat, _ := os.ReadFile("/proc/self/stat")
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	live := mk(strconv.Itoa(os.Getpid()) + " " + fields[19] + "\n")
	unknown := mk("")

	open(t, plugintest.Folder(t), host.Options{})
	for dir, want := range map[string]bool{gone: false, reused: false, live: true, unknown: true} {
		_, err := os.Stat(dir)
		if exists := err == nil; exists != want {
			t.Errorf("%s exists = %v, want %v", dir, exists, want)
		}
	}
}

// Where no mount namespace can be made (a container without CAP_SYS_ADMIN, user
// namespaces turned off; NoNamespaces pretends so), Landlock alone leaves named
// Unix sockets reachable: auto says so at WARN and in the status, runs with
// direct egress, and required starts no plugin.
func TestNoNamespacesIsAReportedGap(t *testing.T) {
	requireFullSandbox(t)
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	logs := logtest.New()
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: logs})
	h := open(t, dir, host.Options{Logger: log, Sandbox: sandbox.Policy{NoNamespaces: true}})
	st := h.Status().Sandbox
	// Nor a /proc, IPC and UTS namespaces of the plugin's own.
	if st.Has(sandbox.FeatureRoot) || len(st.Missing) != 3 || !strings.HasPrefix(st.Missing[0], sandbox.FeatureRoot) ||
		!strings.HasPrefix(st.Missing[1], sandbox.FeatureProc) || !strings.HasPrefix(st.Missing[2], sandbox.FeatureIPC) || st.Egress != sandbox.EgressOpen {
		t.Fatalf("status = %+v", st)
	}
	if !strings.Contains(logs.String(), "[WARN]  plugins run with a partial sandbox") || !strings.Contains(logs.String(), sandbox.FeatureRoot) {
		t.Errorf("no warning about the missing private root:\n%s", logs)
	}
	if len(h.Plugins()) != 1 {
		t.Fatalf("auto refused the plugin: %v", h.Refused())
	}
	h = open(t, dir, host.Options{Sandbox: sandbox.Policy{Mode: sandbox.ModeRequired, NoNamespaces: true}})
	if len(h.Plugins()) != 0 || !strings.Contains(refusedReason(h, "idplug-connector-example"), sandbox.FeatureRoot) {
		t.Fatalf("required started a plugin without a private root: %+v %v", h.Plugins(), h.Refused())
	}
}
