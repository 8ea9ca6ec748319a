package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk"
)

// startTimeout bounds a Node start: digest check, import of the connector, ready line.
const startTimeout = 60 * time.Second

// maxLine caps one answer from Node.
const maxLine = 8 << 20

// maxRequest is the bridge's cap on one request line (serve.mjs): Node exits on a
// longer one, failing every call in flight, other instances' too. A request that
// would pass it is refused here instead.
const maxRequest = 4 << 20

// pingTimeout is how long a Node whose call ran out of time has to answer a ping
// before it is replaced (see probe).
const pingTimeout = 5 * time.Second

// bridge runs the connector's Node process, starting it on first use and again after
// it died.
type bridge struct {
	bundle    *bundle
	pkg       string
	testHosts map[string]string

	mu  sync.Mutex // guards cur, launching and the spacing's state below
	cur *nodeProc
	// live mirrors cur for running, which must not wait behind a start.
	live atomic.Pointer[nodeProc]
	// launching is the start under way, if any. A start is the bridge's, not a
	// caller's: it runs to its own end (startTimeout) while each caller waits for
	// it only until its own deadline, so every start's outcome counts for the
	// spacing, and callers that came meanwhile share it rather than each making one.
	launching *launch
	// After a start failed, the next waits (see retryIn).
	failures  int
	lastFail  time.Time
	lastError error
	// checked holds the configurations (their digests) a check has started Node
	// for, or waited on its start, since Node last started (see proc).
	checked map[string]bool
	now     func() time.Time // time.Now; a test's clock
}

// launch is one start of Node; done is closed once p or err is set.
type launch struct {
	done chan struct{}
	p    *nodeProc
	err  error
}

// Starts that fail are spaced: each checks the whole bundle and boots Node (some
// half a second of CPU), and any browser can ask for a sign-in, so a connector
// that throws at every start must not turn each request into a start.
const (
	firstRetry = time.Second
	maxRetry   = 30 * time.Second
)

// retryIn is how long after a failed start the next one waits: a second, then
// twice as long after each failure in a row, at most maxRetry.
func (b *bridge) retryIn() time.Duration {
	if b.failures == 0 {
		return 0
	}
	wait := maxRetry
	if b.failures < 6 {
		wait = min(firstRetry<<(b.failures-1), maxRetry)
	}
	return b.lastFail.Add(wait).Sub(b.clock())
}

func (b *bridge) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// stillFailing is the last start's error, saying when the next start will be.
func stillFailing(err error, in time.Duration) error {
	next := fmt.Sprintf(" (the connector's Node failed to start; the next try is in %s)", in.Round(100*time.Millisecond))
	var e *sdk.Error
	if errors.As(err, &e) {
		again := *e
		again.Message += next
		return &again
	}
	return sdk.Errorf(sdk.CodeGeneral, "%v%s", err, next)
}

// nodeProc is one Node process and its channel: a Unix socket pair, Node's fd 3.
type nodeProc struct {
	cmd  *exec.Cmd
	conn net.Conn
	pid  int

	wmu    sync.Mutex // one writer at a time
	nextID atomic.Uint64

	pmu     sync.Mutex
	pending map[uint64]chan answer
	// probing is set while a ping checks whether Node's event loop still turns.
	probing atomic.Bool
	dead    chan struct{} // closed when the channel is gone
	exited  chan struct{} // closed when the process has been waited for
}

type answer struct {
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *wireError      `json:"error"`
	// Spans are the provider requests of a call that carried a traceparent.
	Spans []nodeSpan `json:"spans"`
}

type wireError struct {
	Code    sdk.ErrorCode  `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// call sends one request and waits for its answer. A Node that is not running is
// started first; one that dies during the call fails it (the next call starts it again).
// Calls that may be sent again when Node died under them: they change nothing at the
// provider. A sign-in's callback is not among them (the code may have been used).
var idempotent = map[string]bool{"validate": true, "authorize": true}

func (b *bridge) call(ctx context.Context, op string, req map[string]any, out any) error {
	return b.callFor(ctx, "", op, req, out)
}

// callFor is call on behalf of the check of the configuration whose digest is
// config ("" for none), which proc may let start Node within the spacing.
func (b *bridge) callFor(ctx context.Context, config, op string, req map[string]any, out any) error {
	for attempt := 0; ; attempt++ {
		p, err := b.proc(ctx, config)
		if err != nil {
			return err
		}
		err = p.call(ctx, op, req, out)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			b.probe(ctx, p)
		}
		if !errors.Is(err, errNodeGone) {
			return err
		}
		b.discard(p)
		if attempt > 0 || !idempotent[op] {
			return err
		}
	}
}

// probe checks, once a call to p ran out of time, whether Node's event loop still
// turns: a connector's code that never yields (a loop, a regular expression that
// backtracks for ever) would otherwise hold every call of every instance to its
// deadline for as long as the plugin runs. A slow provider is not such a case:
// Node answers a ping while it waits. One that does not answer within pingTimeout
// is replaced; the calls it held fail now rather than at their deadlines.
func (b *bridge) probe(ctx context.Context, p *nodeProc) {
	if !p.probing.CompareAndSwap(false, true) {
		return // a check is already under way
	}
	log := sdk.Logger(ctx)
	go func() {
		defer p.probing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		defer cancel()
		err := p.call(ctx, "ping", nil, nil)
		if err == nil || errors.Is(err, errNodeGone) {
			return
		}
		log.Warn("the connector's Node process did not answer a ping within "+pingTimeout.String()+" after a call ran out of time: its event loop is blocked; replacing it", "pid", p.pid)
		b.discard(p)
	}()
}

// discard forgets p once it failed a call, so that the next call starts a new Node
// even before p's exit has been noticed.
func (b *bridge) discard(p *nodeProc) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == p {
		b.cur = nil
		b.live.Store(nil)
		p.stop()
	}
}

func (p *nodeProc) call(ctx context.Context, op string, req map[string]any, out any) error {
	id := p.nextID.Add(1)
	ch := make(chan answer, 1)
	p.pmu.Lock()
	if p.pending == nil {
		p.pmu.Unlock()
		return nodeGone()
	}
	p.pending[id] = ch
	p.pmu.Unlock()
	defer func() {
		p.pmu.Lock()
		if p.pending != nil {
			delete(p.pending, id)
		}
		p.pmu.Unlock()
	}()
	msg := make(map[string]any, len(req)+2)
	for k, v := range req {
		msg[k] = v
	}
	msg["id"], msg["op"] = id, op
	// The bridge ends the call's provider requests before this deadline: the
	// connectors' own timeouts outlast a call (callDeadline, provider-http.mjs).
	if dl, ok := ctx.Deadline(); ok {
		msg["timeLeft"] = max(time.Until(dl).Milliseconds(), 1)
	}
	if tp := traceparent(ctx); tp != "" {
		msg["traceparent"] = tp
	}
	start := time.Now()
	line, err := requestLine(op, msg)
	if err != nil {
		return err
	}
	p.wmu.Lock()
	_ = p.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = p.conn.Write(line)
	p.wmu.Unlock()
	if err != nil {
		return nodeGone()
	}
	select {
	case a := <-ch:
		emitNodeSpans(ctx, a.Spans, start, time.Now())
		if a.Error != nil {
			return fromWire(a.Error)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(a.Result, out); err != nil {
			return sdk.Errorf(sdk.CodeInvalidResponse, "the bridge answered %s with something unreadable", op)
		}
		return nil
	case <-p.dead:
		return nodeGone()
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return sdk.Errorf(sdk.CodeProviderTimeout, "the connector did not answer before the deadline")
		}
		return ctx.Err()
	}
}

var errNodeGone = errors.New("node exited")

func nodeGone() error {
	return sdk.Errorf(sdk.CodeGeneral, "the connector's Node process exited during the call; it is restarted on the next one").WithCause(errNodeGone)
}

func fromWire(w *wireError) error {
	if w.Code == sdk.CodeInvalidConfig {
		if fields, ok := w.Details["fields"].([]any); ok && len(fields) > 0 {
			ce := &sdk.ConfigError{}
			for _, f := range fields {
				m, _ := f.(map[string]any)
				field, _ := m["field"].(string)
				msg, _ := m["message"].(string)
				ce.Fields = append(ce.Fields, sdk.FieldError{Field: field, Message: msg})
			}
			return ce
		}
	}
	code := w.Code
	if code == "" {
		code = sdk.CodeGeneral
	}
	return &sdk.Error{Code: code, Message: w.Message, Details: w.Details}
}

// maxChecked bounds checked; past it no configuration's check is let through the
// spacing (an operator's configuration has not that many instances of one connector).
const maxChecked = 1024

// proc returns the running Node process, starting one when there is none. After a
// failed start a new one waits out the spacing (retryIn), and a call within it gets
// the last start's error. One kind of call may start Node at once: the check of a
// configuration (config is its digest; "" for any other call) that no start has
// answered since Node last ran. An operator's new or changed configuration (a
// reload; idplug validate runs plugins of its own) so gets a fresh answer, as what
// failed may just have been mended. A browser cannot use this to start Node at
// will: after a plugin restart each sign-in carries its instance's configuration to
// be checked again, but that configuration has had its start, and waits like any call.
func (b *bridge) proc(ctx context.Context, config string) (*nodeProc, error) {
	if p := b.running(); p != nil {
		return p, nil
	}
	// A caller whose time ran out starts nothing.
	if ctx.Err() != nil {
		return nil, stillStarting()
	}
	b.mu.Lock()
	if b.cur != nil {
		select {
		case <-b.cur.dead:
			b.cur.stop()
			b.cur = nil
			b.live.Store(nil)
		default:
			p := b.cur
			b.mu.Unlock()
			return p, nil // started meanwhile
		}
	}
	l := b.launching
	if l == nil {
		if in := b.retryIn(); in > 0 && !b.unanswered(config) {
			err := b.lastError
			b.mu.Unlock()
			return nil, stillFailing(err, in)
		}
		l = &launch{done: make(chan struct{})}
		b.launching = l
		go b.launch(l)
	}
	if config != "" && len(b.checked) < maxChecked {
		if b.checked == nil {
			b.checked = map[string]bool{}
		}
		b.checked[config] = true
	}
	b.mu.Unlock()
	select {
	case <-l.done:
		return l.p, l.err
	case <-ctx.Done():
		return nil, stillStarting()
	}
}

// unanswered says whether config is a configuration no start has answered since
// Node last ran. Held: b.mu.
func (b *bridge) unanswered(config string) bool {
	return config != "" && !b.checked[config] && len(b.checked) < maxChecked
}

func stillStarting() error {
	return sdk.Errorf(sdk.CodeGeneral, "the connector's Node process was still starting when the call's time ran out")
}

// launch runs one start to its end, whoever is still waiting for it, and records
// its outcome.
func (b *bridge) launch(l *launch) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	p, err := b.start(ctx)
	b.mu.Lock()
	if err != nil {
		b.failures++
		b.lastFail, b.lastError = b.clock(), err
	} else {
		b.failures, b.lastError, b.checked = 0, nil, nil
		b.cur = p
		b.live.Store(p)
	}
	b.launching = nil
	l.p, l.err = p, err
	close(l.done)
	b.mu.Unlock()
}

// running returns the Node process if one runs, never starting one: a Node that
// is not running holds nothing to drop.
func (b *bridge) running() *nodeProc {
	p := b.live.Load()
	if p == nil {
		return nil
	}
	select {
	case <-p.dead:
		return nil
	default:
		return p
	}
}

// start checks the bundle, then runs node bridge.mjs --serve <package> with the
// socket pair as fd 3, and waits for its ready line.
func (b *bridge) start(ctx context.Context) (*nodeProc, error) {
	if err := b.bundle.verify(); err != nil {
		return nil, sdk.Errorf(sdk.CodeGeneral, "the Logto bundle is refused: %v", err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket pair: %w", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "bridge-channel")
	theirs := os.NewFile(uintptr(fds[1]), "bridge-channel-node")
	defer theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, err
	}
	cmd := exec.Command(filepath.Join(b.bundle.dir, nodeName),
		"--no-addons", // the connectors are pure JavaScript
		// The bridge keeps each call's context in an AsyncLocalStorage. Without
		// this flag Node 22 tracks it with promise hooks, which run on every
		// promise of the connector's code (the cost is in BENCHMARKS.md, the bridge).
		"--experimental-async-context-frame",
		filepath.Join(b.bundle.dir, bridgeName), "--serve", b.pkg)
	cmd.Dir = b.bundle.dir
	cmd.Env = []string{"NODE_ENV=production"} // nothing of the plugin's own environment
	// but the host's egress proxy, when the plugin has no network of its own.
	if proxy := os.Getenv(wire.EnvEgressProxy); proxy != "" {
		cmd.Env = append(cmd.Env, wire.EnvEgressProxy+"="+proxy)
	}
	// Both of Node's streams come back through a pipe (nodeoutput.go): the
	// plugin's stdout carries go-plugin's handshake, and its stderr is
	// go-plugin's by now, read by no one.
	outR, outW, err := os.Pipe()
	if err != nil {
		conn.Close()
		return nil, err
	}
	output := newNodeOutput(sdk.PluginLogger()) // Node serves every instance
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.ExtraFiles = []*os.File{theirs}
	// Node dies with the plugin, even when the plugin is SIGKILLed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = startLocked(cmd)
	outW.Close() // Node's copy is the one left: its exit ends the reading
	if err != nil {
		outR.Close()
		conn.Close()
		if info, serr := os.Stat(cmd.Path); errors.Is(err, fs.ErrPermission) && serr == nil && info.Mode().Perm()&0o100 == 0 {
			return nil, sdk.Errorf(sdk.CodeGeneral, "starting Node: %s is not executable (mode %04o): the bundle lost its modes on the way; chmod 755 it",
				cmd.Path, info.Mode().Perm())
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, sdk.Errorf(sdk.CodeGeneral, "starting Node: %v (idplug's sandbox lets a Logto plugin run only the Node of the logto-bundle folder beside its file; "+
				"a bundle elsewhere needs a sandbox.exec entry for logto-*)", err)
		}
		return nil, sdk.Errorf(sdk.CodeGeneral, "starting Node: %v", err)
	}
	go output.read(outR)
	p := &nodeProc{cmd: cmd, conn: conn, pid: cmd.Process.Pid, pending: map[uint64]chan answer{},
		dead: make(chan struct{}), exited: make(chan struct{})}
	ready := make(chan answer, 1)
	go p.read(ready)
	go func() {
		_ = cmd.Wait()
		close(p.exited)
		conn.Close() // ends read, which fails the pending calls
	}()
	select {
	case a := <-ready:
		if a.Error != nil {
			p.stop()
			return nil, sdk.Errorf(sdk.CodeInvalidMetadata, "loading %s: %s", b.pkg, a.Error.Message)
		}
	case <-p.dead:
		p.stop()
		said := "it printed nothing"
		if lines := output.last(); len(lines) > 0 {
			said = "it said: " + strings.Join(lines, " / ")
		}
		return nil, sdk.Errorf(sdk.CodeGeneral, "Node exited while loading %s (%s)", b.pkg, said)
	case <-ctx.Done():
		p.stop()
		return nil, sdk.Errorf(sdk.CodeGeneral, "Node did not load %s within %s", b.pkg, startTimeout)
	}
	if b.testHosts != nil {
		if err := p.call(ctx, "init", map[string]any{"testHosts": b.testHosts}, nil); err != nil {
			p.stop()
			return nil, err
		}
	}
	return p, nil
}

// startLocked starts cmd from a thread that outlives it: Pdeathsig fires when the
// thread that forked the child exits, not the process, and Go ends a thread that
// exits locked. Unlocking returns the thread to the pool for good.
func startLocked(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Start()
}

// read dispatches answers to the waiting calls until the channel closes.
func (p *nodeProc) read(ready chan<- answer) {
	defer func() {
		p.pmu.Lock()
		p.pending = nil // every waiting call sees dead
		p.pmu.Unlock()
		close(p.dead)
	}()
	sc := bufio.NewScanner(p.conn)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	first := true
	for sc.Scan() {
		var a answer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return // a peer that speaks garbage is not trusted further
		}
		if first {
			first = false
			ready <- a
			continue
		}
		p.pmu.Lock()
		ch := p.pending[a.ID]
		p.pmu.Unlock()
		if ch != nil {
			select {
			case ch <- a:
			default: // a second answer to one call (a connector writing to fd 3): the first counts
			}
		}
	}
}

// stop kills the process and waits for it.
func (p *nodeProc) stop() {
	_ = p.cmd.Process.Kill()
	p.conn.Close()
	<-p.exited
}

// requestLine is msg as the bridge reads it: one line of JSON, newline included.
// A line past maxRequest is the call's error, naming its size, and never reaches
// Node (JSON writes each control character of a callback in six bytes).
func requestLine(op string, msg map[string]any) ([]byte, error) {
	line, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	line = append(line, '\n')
	if len(line) > maxRequest {
		code, what := sdk.CodeInvalidRequestParameters, "the call's data"
		if op == "validate" {
			code, what = sdk.CodeInvalidConfig, "the configuration"
		}
		return nil, sdk.Errorf(code, "%s makes a request to the connector's Node of %d bytes, over its limit of %d", what, len(line), maxRequest)
	}
	return line, nil
}
