package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
)

// A connector can write to the bridge's socket itself (fd 3): three answers to
// one call blocked the plugin's reader on the call's one-slot channel, and no
// answer reached any other call until the plugin restarted.
func TestDuplicateAnswersDoNotWedgeTheReader(t *testing.T) {
	plugin, node := net.Pipe()
	t.Cleanup(func() { _ = plugin.Close(); _ = node.Close() })
	p := &nodeProc{conn: plugin, pending: map[uint64]chan answer{}, dead: make(chan struct{})}
	first, other := make(chan answer, 1), make(chan answer, 1)
	p.pending[1], p.pending[2] = first, other
	go p.read(make(chan answer, 1))
	go func() {
		_, _ = node.Write([]byte("{\"id\":0}\n{\"id\":1}\n{\"id\":1}\n{\"id\":1}\n{\"id\":2,\"result\":{}}\n"))
	}()
	select {
	case a := <-other:
		if a.ID != 2 {
			t.Fatalf("answer %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other call's answer never came: the reader is stuck on a duplicate")
	}
	if a := <-first; a.ID != 1 {
		t.Fatalf("the first call got %+v", a)
	}
}

// Starts are one at a time (each checks the whole bundle and boots Node): a call
// waits for the start under way only until its own deadline, and a call whose time
// ran out starts nothing. (The bridge here has no bundle: a start would panic.)
func TestStartsWaitOnlyUntilTheCallsDeadline(t *testing.T) {
	b := &bridge{}
	b.launching = &launch{done: make(chan struct{})} // another call's start, in progress
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	if _, err := b.proc(ctx, ""); err == nil || !strings.Contains(err.Error(), "still starting") {
		t.Fatalf("err = %v", err)
	}
	if waited := time.Since(began); waited > 5*time.Second {
		t.Fatalf("the call waited %s behind another's start, past its deadline", waited)
	}
	b.mu.Lock()
	b.launching = nil // that start is over
	b.mu.Unlock()
	if _, err := b.proc(ctx, ""); err == nil || !strings.Contains(err.Error(), "still starting") {
		t.Fatalf("a call past its deadline: %v", err)
	}
}

// Calls that come while a start is under way wait for that start and share its
// outcome: none makes a start of its own, and once it failed the configurations
// whose checks waited on it wait out the spacing like any call.
func TestCallsShareTheStartUnderWay(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	b := &bridge{now: func() time.Time { return now }}
	l := &launch{done: make(chan struct{})}
	b.launching = l
	configs := []string{"digest-a", "digest-b", "digest-c"}
	errs := make(chan error, len(configs))
	for _, config := range configs {
		go func() {
			_, err := b.proc(context.Background(), config)
			errs <- err
		}()
	}
	giveUp := time.Now().Add(10 * time.Second)
	for waiting := 0; waiting < len(configs); { // each check notes its configuration as it joins
		if time.Now().After(giveUp) {
			t.Fatalf("%d of %d checks joined the start under way", waiting, len(configs))
		}
		time.Sleep(time.Millisecond)
		b.mu.Lock()
		waiting = len(b.checked)
		b.mu.Unlock()
	}
	failed := errors.New("the start failed")
	b.mu.Lock()
	b.failures, b.lastFail, b.lastError, b.launching = 1, now, failed, nil
	l.err = failed
	close(l.done)
	b.mu.Unlock()
	for range configs {
		if err := <-errs; !errors.Is(err, failed) {
			t.Fatalf("a check during a start got %v; want that start's error", err)
		}
	}
	// (The bridge here has no bundle: a start would panic.)
	if _, err := b.proc(context.Background(), "digest-b"); err == nil || !strings.Contains(err.Error(), "the next try is in") {
		t.Fatalf("a configuration whose check waited on the failed start: %v; want the spacing", err)
	}
}

// TestABlockedEventLoopIsReplaced: a connector whose code never yields (here a
// loop for one sign-in's state; in the wild a regular expression that backtracks
// on a provider's answer) blocked the one Node that serves every instance of the
// plugin, and every later call ran out of time until the plugin restarted. Once a
// call runs out of time and Node does not answer a ping, it is replaced, and the
// next sign-in works.
func TestABlockedEventLoopIsReplaced(t *testing.T) {
	dir := productionFolder(t)
	addConnector(t, dir, "stuck", strings.Replace(noisyConnector,
		"const { clientId } = await getConfig('noisy-universal');",
		"if (state.startsWith('hang')) { for (;;) {} }\n      const { clientId } = await getConfig('noisy-universal');", 1))
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Sandbox: sandbox.Policy{},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}}), CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ctx := context.Background()
	// The first call starts Node, which checks the whole bundle: on a loaded
	// machine that may take more than the 3 s a call has here, so the steps
	// before the hang are tried again while they run out of time (any other
	// error fails at once), within two minutes, as the one after it.
	onlyTimeouts := func(err error) error {
		if err != nil && !strings.Contains(err.Error(), string(host.CodePluginTimeout)) {
			t.Fatal(err)
		}
		return err
	}
	withinTwoMinutes(t, "Configure", func() error {
		return onlyTimeouts(h.Configure(ctx, []host.InstanceConfig{{ID: "s", Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c1"})}}))
	})
	withinTwoMinutes(t, "a sign-in before", func() error {
		_, err := h.AuthorizationURI(ctx, "s", callbackURL, "st-before")
		return onlyTimeouts(err)
	})
	if _, err := h.AuthorizationURI(ctx, "s", callbackURL, "hang-1"); err == nil {
		t.Fatal("the sign-in whose code never yields succeeded")
	}
	// The ping takes up to pingTimeout after the first call's deadline; calls
	// sent meanwhile still reach the blocked Node, and a new Node's start may
	// take a loaded machine more than one call's time. Each call is bounded by
	// the call timeout: without the replacement every one runs out of time.
	withinTwoMinutes(t, "a sign-in after the hang", func() error {
		_, err := h.AuthorizationURI(ctx, "s", callbackURL, "st-after")
		return err
	})
}

// withinTwoMinutes calls try until it succeeds, and fails the test with its last
// error once two minutes have passed. Each try is bounded by its own deadline.
func withinTwoMinutes(t *testing.T, what string, try func() error) {
	t.Helper()
	giveUp := time.Now().Add(2 * time.Minute)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(giveUp) {
			t.Fatalf("%s: still failing after two minutes: %v", what, err)
		}
	}
}

// A connector that fails at every start (it throws when made, or its bundle is
// refused) is not started again by every call: each start checks the whole
// bundle and boots Node, and any browser can ask for a sign-in. Calls within the
// wait get the last start's error, saying when the next try is; the wait doubles.
func TestFailedStartsAreSpaced(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	// No digest list in the folder: every start fails at the bundle's check,
	// before any Node.
	b := &bridge{bundle: &bundle{pluginDir: t.TempDir(), dir: t.TempDir()}, now: func() time.Time { return now }}
	call := func(config string) error {
		_, err := b.proc(context.Background(), config)
		return err
	}
	tried := func(err error) bool { return err != nil && !strings.Contains(err.Error(), "the next try is in") }
	for _, step := range []struct {
		advance time.Duration
		tries   bool
	}{
		{0, true},
		{0, false},
		{900 * time.Millisecond, false},
		{200 * time.Millisecond, true}, // a second after the first failure
		{1500 * time.Millisecond, false},
		{600 * time.Millisecond, true}, // two seconds after the second
		{time.Hour, true},              // the fourth failure: 8s
		{8 * time.Second, true},
		{16 * time.Second, true}, // the sixth: 32s, cut to maxRetry
		{maxRetry - time.Millisecond, false},
		{time.Millisecond, true}, // never longer than maxRetry
	} {
		now = now.Add(step.advance)
		err := call("")
		if !strings.Contains(fmt.Sprint(err), "the bundle's digest list") {
			t.Fatalf("at +%s: %v, want the start's error", step.advance, err)
		}
		if tried(err) != step.tries {
			t.Fatalf("at +%s: tried %v, want %v (%v)", step.advance, tried(err), step.tries, err)
		}
	}
	// The check of a configuration no start has answered yet, an operator's
	// (re)load, tries at once: what failed may just have been mended. The same
	// configuration checked again (as each sign-in carrying it does after the
	// plugin restarted) waits like any call; another new one tries at once.
	for _, check := range []struct {
		config string
		tries  bool
	}{{"digest-a", true}, {"digest-a", false}, {"digest-b", true}, {"digest-a", false}, {"digest-b", false}} {
		if err := call(check.config); tried(err) != check.tries {
			t.Fatalf("the check of %s: tried %v, want %v (%v)", check.config, tried(err), check.tries, err)
		}
	}
}
