package process

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Unit tests of the call path without a plugin process: invoke is given the
// call to make, and the Process a connection that no process stands behind.
// The tests with real plugin processes are in package host.

// newIdle returns a Process whose current connection is c (never launched) and
// whose executable does not exist, so every restart fails.
func newIdle(t *testing.T, opts Options) (*Process, *conn) {
	t.Helper()
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 512
	}
	if opts.MaxCrashes <= 0 {
		opts.MaxCrashes = 5
	}
	if opts.ReplyBudget <= 0 {
		opts.ReplyBudget = DefaultReplyBudget
	}
	p := &Process{name: "fake", path: "/nonexistent/idplug-connector-fake", opts: opts,
		log: hclog.NewNullLogger(), stop: make(chan struct{}), replies: newReplyBudget(opts.ReplyBudget)}
	c := &conn{client: &plugin.Client{}, started: time.Now(), dropped: make(chan struct{})}
	p.cur.Store(c)
	t.Cleanup(p.Close)
	return p, c
}

func sdkError(t *testing.T, err error) *sdk.Error {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is no *sdk.Error", err, err)
	}
	return e
}

var inst = Instance{ID: "acme", Version: "v1", Config: []byte(`{"clientId":"x"}`)}

func TestBackoff(t *testing.T) {
	p := &Process{}
	for crashes, want := range map[int]time.Duration{
		0: 0, 1: 0, 2: 50 * time.Millisecond, 3: 100 * time.Millisecond, 4: 200 * time.Millisecond,
		9: 6400 * time.Millisecond, 10: 10 * time.Second, 11: 10 * time.Second, 1000: 10 * time.Second,
	} {
		p.crashes = crashes
		if got := p.backoffLocked(); got != want {
			t.Errorf("backoff after %d crashes = %v, want %v", crashes, got, want)
		}
	}
}

func TestDecodeError(t *testing.T) {
	for name, tc := range map[string]struct {
		err     error
		code    sdk.ErrorCode
		message string
		details map[string]any
	}{
		"not gRPC": {errors.New("broken pipe"), sdk.CodeGeneral, "broken pipe", nil},
		"bare status": {status.Error(codes.Internal, "panic in handler"), sdk.CodeGeneral,
			"plugin call failed: Internal: panic in handler", nil},
		"connector error": {connectorStatus(codes.Unauthenticated, &connectorv1.ConnectorError{Code: string(sdk.CodeSocialAuthCodeInvalid),
			Message: "code expired", DetailsJson: []byte(`{"error":"invalid_grant","n":1}`)}),
			sdk.CodeSocialAuthCodeInvalid, "code expired", map[string]any{"error": "invalid_grant", "n": float64(1)}},
		"no code": {connectorStatus(codes.Unknown, &connectorv1.ConnectorError{Message: "no code given"}),
			sdk.CodeGeneral, "no code given", nil},
		"the host's code": {connectorStatus(codes.Unavailable, &connectorv1.ConnectorError{Code: string(CodePluginUnavailable), Message: "m"}),
			sdk.CodeGeneral, "m", nil},
		"the API's code": {connectorStatus(codes.Unknown, &connectorv1.ConnectorError{Code: "too_many_attempts", Message: "m"}),
			sdk.CodeGeneral, "m", nil},
		"an sdk code of idplug's": {connectorStatus(codes.Unknown, &connectorv1.ConnectorError{Code: string(sdk.CodeProviderUnavailable), Message: "m"}),
			sdk.CodeProviderUnavailable, "m", nil},
		"details not an object": {connectorStatus(codes.Unknown, &connectorv1.ConnectorError{Code: "x", Message: "m", DetailsJson: []byte(`[1,2`)}),
			"x", "m", nil},
	} {
		t.Run(name, func(t *testing.T) {
			e := sdkError(t, decodeError(tc.err))
			if e.Code != tc.code || e.Message != tc.message || len(e.Details) != len(tc.details) {
				t.Fatalf("decodeError = %s %q %v; want %s %q %v", e.Code, e.Message, e.Details, tc.code, tc.message, tc.details)
			}
			for k, v := range tc.details {
				if e.Details[k] != v {
					t.Errorf("details[%s] = %v, want %v", k, e.Details[k], v)
				}
			}
		})
	}
}

// connectorStatus is the gRPC error a plugin sends for a connector error.
func connectorStatus(code codes.Code, ce *connectorv1.ConnectorError) error {
	st, err := status.New(code, ce.GetMessage()).WithDetails(ce)
	if err != nil {
		panic(err)
	}
	return st.Err()
}

// TestCallDeadline: every call gets the call timeout as its deadline, or the
// caller's when that is earlier; a call past it is plugin_timeout, a call the
// caller cancels is a general error saying so.
func TestCallDeadline(t *testing.T) {
	p, _ := newIdle(t, Options{CallTimeout: 50 * time.Millisecond})
	waitForDeadline := func(ctx context.Context, _ *conn, _ *connectorv1.Instance, _ grpc.CallOption) error {
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	}
	start := time.Now()
	err := p.invoke(context.Background(), "GetUserInfo", &inst, false, waitForDeadline)
	if e := sdkError(t, err); e.Code != CodePluginTimeout || e.Message != "plugin fake did not answer GetUserInfo within 50ms" {
		t.Fatalf("err = %s %q", e.Code, e.Message)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("the call ended after %v, before its deadline", took)
	}

	var deadline time.Time
	_ = p.invoke(context.Background(), "X", &inst, true, func(ctx context.Context, _ *conn, _ *connectorv1.Instance, _ grpc.CallOption) error {
		deadline, _ = ctx.Deadline()
		return nil
	})
	if left := time.Until(deadline); left > 50*time.Millisecond || deadline.IsZero() {
		t.Errorf("a call's deadline is %v away; the call timeout is 50ms", left)
	}

	// A plugin that answers DeadlineExceeded itself (its own context ran out) is a timeout too.
	err = p.invoke(context.Background(), "X", &inst, true, func(context.Context, *conn, *connectorv1.Instance, grpc.CallOption) error {
		return status.Error(codes.DeadlineExceeded, "context deadline exceeded")
	})
	if e := sdkError(t, err); e.Code != CodePluginTimeout {
		t.Errorf("DeadlineExceeded from the plugin: %s", e.Code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	long, _ := newIdle(t, Options{CallTimeout: time.Hour})
	err = long.invoke(ctx, "GetUserInfo", &inst, false, waitForDeadline)
	if e := sdkError(t, err); e.Code != sdk.CodeGeneral || e.Message != "GetUserInfo to plugin fake was canceled" {
		t.Errorf("canceled by the caller: %s %q", e.Code, e.Message)
	}
	if long.cur.Load() == nil {
		t.Error("a call the caller canceled dropped the process")
	}
}

// TestConfigIsSentOnce: an instance's configuration rides along until the
// process has it, again when its version changes, and again when the process
// says it lost it; a second loss in a row is the plugin's error.
func TestConfigIsSentOnce(t *testing.T) {
	p, _ := newIdle(t, Options{})
	var sent [][]byte
	record := func(_ context.Context, _ *conn, in *connectorv1.Instance, _ grpc.CallOption) error {
		if in.GetId() != "acme" || in.GetConfigVersion() == "" {
			t.Errorf("instance = %v", in)
		}
		sent = append(sent, in.GetConfig())
		return nil
	}
	v2 := Instance{ID: "acme", Version: "v2", Config: []byte(`{"clientId":"y"}`)}
	for _, i := range []*Instance{&inst, &inst, &v2, &v2} {
		if err := p.invoke(context.Background(), "X", i, true, record); err != nil {
			t.Fatal(err)
		}
	}
	if len(sent) != 4 || string(sent[0]) != string(inst.Config) || sent[1] != nil || string(sent[2]) != string(v2.Config) || sent[3] != nil {
		t.Fatalf("configs sent: %q", sent)
	}

	// A failed call does not mark the configuration as known.
	q, _ := newIdle(t, Options{})
	sent = nil
	_ = q.invoke(context.Background(), "X", &inst, true, func(ctx context.Context, c *conn, in *connectorv1.Instance, _ grpc.CallOption) error {
		sent = append(sent, in.GetConfig())
		return connectorStatus(codes.InvalidArgument, &connectorv1.ConnectorError{Code: "invalid_config", Message: "bad"})
	})
	_ = q.invoke(context.Background(), "X", &inst, true, record)
	if len(sent) != 2 || sent[1] == nil {
		t.Fatalf("after a failed call: %q", sent)
	}

	required := connectorStatus(codes.FailedPrecondition, &connectorv1.ConnectorError{Code: "general", Message: "config required", ConfigRequired: true})
	sent = nil
	err := p.invoke(context.Background(), "X", &v2, true, func(_ context.Context, _ *conn, in *connectorv1.Instance, _ grpc.CallOption) error {
		sent = append(sent, in.GetConfig())
		if len(sent) == 1 {
			return required
		}
		return nil
	})
	if err != nil || len(sent) != 2 || sent[0] != nil || string(sent[1]) != string(v2.Config) {
		t.Fatalf("after a loss: %v, sent %q", err, sent)
	}

	calls := 0
	err = p.invoke(context.Background(), "X", &v2, true, func(context.Context, *conn, *connectorv1.Instance, grpc.CallOption) error {
		calls++
		return required
	})
	if e := sdkError(t, err); calls != 2 || e.Message != "config required" {
		t.Fatalf("a plugin that keeps losing it: %d calls, %v", calls, err)
	}
}

// TestReplyTooLarge names the limit.
func TestReplyTooLarge(t *testing.T) {
	p, _ := newIdle(t, Options{})
	err := p.invoke(context.Background(), "GetMetadata", &inst, true, func(context.Context, *conn, *connectorv1.Instance, grpc.CallOption) error {
		return status.Error(codes.ResourceExhausted, "grpc: received message larger than max (9999999 vs. 4194304)")
	})
	if e := sdkError(t, err); e.Code != sdk.CodeGeneral || !strings.Contains(e.Message, "larger than the limit of 4194304 bytes") {
		t.Fatalf("err = %s %q", e.Code, e.Message)
	}
}

// TestReplyBudget: while the calls in flight hold the budget at full size, a
// call gets the small limit, and its refusal says so; each call gives back what
// it held, whatever its end.
func TestReplyBudget(t *testing.T) {
	p, _ := newIdle(t, Options{ReplyBudget: 2 * MaxReplySize})
	limitOf := func(o grpc.CallOption) int { return o.(grpc.MaxRecvMsgSizeCallOption).MaxRecvMsgSize }
	var wg sync.WaitGroup
	entered, release := make(chan int), make(chan struct{})
	for i := range 2 {
		wg.Go(func() {
			_ = p.invoke(context.Background(), "X", &inst, true, func(_ context.Context, _ *conn, _ *connectorv1.Instance, limit grpc.CallOption) error {
				entered <- limitOf(limit)
				<-release
				if i == 0 {
					return nil
				}
				return status.Error(codes.Internal, "a failed call gives back too")
			})
		})
	}
	for range 2 {
		if got := <-entered; got != MaxReplySize {
			t.Fatalf("a call within the budget got a limit of %d", got)
		}
	}
	got := 0
	err := p.invoke(context.Background(), "GetUserInfo", &inst, false, func(_ context.Context, _ *conn, _ *connectorv1.Instance, limit grpc.CallOption) error {
		got = limitOf(limit)
		return status.Error(codes.ResourceExhausted, "grpc: received message larger than max (300000 vs. 262144)")
	})
	if got != SmallReplySize {
		t.Fatalf("the call past the budget got a limit of %d", got)
	}
	want := "plugin fake sent a reply to GetUserInfo larger than the limit of 262144 bytes, a call's limit while its calls in flight hold the 8388608 bytes its replies may take at full size"
	if e := sdkError(t, err); e.Code != sdk.CodeGeneral || e.Message != want {
		t.Fatalf("err = %s %q", e.Code, e.Message)
	}
	close(release)
	wg.Wait()
	if free := p.replies.free.Load(); free != 2*MaxReplySize {
		t.Fatalf("%d bytes of the budget free after every call ended", free)
	}
	for range 3 { // one at a time, each at full size again
		_ = p.invoke(context.Background(), "X", &inst, true, func(_ context.Context, _ *conn, _ *connectorv1.Instance, limit grpc.CallOption) error {
			got = limitOf(limit)
			return nil
		})
		if got != MaxReplySize {
			t.Fatalf("after the budget came back, a call got a limit of %d", got)
		}
	}
}

// TestOverloaded: past MaxInFlight a call fails at once, and the count goes
// back down when calls end; Drain waits for the call in flight.
func TestOverloaded(t *testing.T) {
	p, _ := newIdle(t, Options{MaxInFlight: 1})
	entered, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = p.invoke(context.Background(), "X", &inst, true, func(context.Context, *conn, *connectorv1.Instance, grpc.CallOption) error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered
	if p.InFlight() != 1 {
		t.Errorf("in flight = %d", p.InFlight())
	}
	called := false
	err := p.invoke(context.Background(), "X", &inst, true, func(context.Context, *conn, *connectorv1.Instance, grpc.CallOption) error {
		called = true
		return nil
	})
	if e := sdkError(t, err); e.Code != CodePluginOverloaded || called || !strings.Contains(e.Message, "1 calls in flight") {
		t.Fatalf("second call: %v, called %v", err, called)
	}
	drained := make(chan struct{})
	go func() {
		p.Drain(context.Background())
		close(drained)
	}()
	select {
	case <-drained:
		t.Fatal("Drain returned with a call in flight")
	default:
	}
	close(release)
	wg.Wait()
	<-drained
	if p.InFlight() != 0 || p.State() != StateStopped {
		t.Errorf("after the call: in flight %d, state %s", p.InFlight(), p.State())
	}
}

// TestDeadProcessBookkeeping: a call that finds the connection gone drops the
// process once, retries an idempotent call on a new one, never retries the
// others, and counts deaths and failed starts until the plugin is marked failed.
func TestDeadProcessBookkeeping(t *testing.T) {
	p, c := newIdle(t, Options{MaxCrashes: 3})
	if p.State() != StateRunning {
		t.Fatalf("state = %s", p.State())
	}
	calls := 0
	gone := func(context.Context, *conn, *connectorv1.Instance, grpc.CallOption) error {
		calls++
		return status.Error(codes.Unavailable, "connection refused")
	}
	// Not idempotent: one call, the process dropped, no restart attempted yet.
	err := p.invoke(context.Background(), "GetUserInfo", &inst, false, gone)
	if e := sdkError(t, err); calls != 1 || e.Code != CodePluginUnavailable || e.Message != "plugin fake stopped during GetUserInfo; it is being restarted" {
		t.Fatalf("%d calls, %v", calls, err)
	}
	select {
	case <-c.dropped:
	default:
		t.Fatal("the dead connection was not dropped")
	}
	if p.crashes != 1 || p.cur.Load() != nil {
		t.Fatalf("crashes %d", p.crashes)
	}
	// A second report for the same connection counts nothing.
	p.broken(c)
	if p.crashes != 1 {
		t.Fatalf("a second report counted: crashes %d", p.crashes)
	}

	// The next call starts a new process; the executable is gone, so the start
	// fails, and that counts like a crash.
	err = p.invoke(context.Background(), "X", &inst, true, gone)
	if e := sdkError(t, err); calls != 1 || e.Code != CodePluginUnavailable || !strings.Contains(e.Message, "plugin fake could not be restarted: ") {
		t.Fatalf("%d calls, %v", calls, err)
	}
	if p.crashes != 2 || p.failed || p.State() != StateRestarting {
		t.Fatalf("crashes %d failed %v state %s", p.crashes, p.failed, p.State())
	}
	// The third (after the backoff) marks the plugin failed; later calls fail at once.
	_ = p.invoke(context.Background(), "X", &inst, true, gone)
	if p.crashes != 3 || !p.failed || p.State() != StateFailed {
		t.Fatalf("crashes %d failed %v state %s", p.crashes, p.failed, p.State())
	}
	err = p.invoke(context.Background(), "X", &inst, true, gone)
	if e := sdkError(t, err); !strings.Contains(e.Message, "plugin fake failed: it died 3 times in a row right after starting") {
		t.Fatalf("after failing: %v", err)
	}
	if p.ensureRunning() != nil {
		t.Error("a failed plugin is started again")
	}
}

// TestIdempotentCallIsRetriedOnce: an idempotent call that finds the process
// gone is made once more, on the replacement.
func TestIdempotentCallIsRetriedOnce(t *testing.T) {
	p, first := newIdle(t, Options{})
	second := &conn{client: &plugin.Client{}, started: time.Now(), dropped: make(chan struct{})}
	var seen []*conn
	err := p.invoke(context.Background(), "X", &inst, true, func(_ context.Context, c *conn, in *connectorv1.Instance, _ grpc.CallOption) error {
		seen = append(seen, c)
		if c == first {
			// The replacement is in place before the retry looks for it, as a
			// watcher would have put it.
			p.broken(c)
			p.cur.Store(second)
			return status.Error(codes.Unavailable, "transport is closing")
		}
		if in.GetConfig() == nil {
			t.Error("the new process was not sent the configuration")
		}
		return nil
	})
	if err != nil || len(seen) != 2 || seen[1] != second {
		t.Fatalf("err %v, calls on %v", err, seen)
	}
}

// TestLongLivedProcessResetsCrashes: a process that ran past crashWindow
// before it died starts the count again.
func TestLongLivedProcessResetsCrashes(t *testing.T) {
	p, c := newIdle(t, Options{})
	c.started = time.Now().Add(-2 * crashWindow)
	p.crashes = 4
	p.broken(c)
	if p.crashes != 1 || p.failed || p.backoffLocked() != 0 {
		t.Fatalf("crashes %d failed %v backoff %v", p.crashes, p.failed, p.backoffLocked())
	}
}
