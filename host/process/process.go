// Package process runs one plugin executable and calls it: it starts the process with
// go-plugin, restarts it after it dies (once per death, however many callers noticed),
// gives every call a deadline, and turns wire failures into connector errors.
package process

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"google.golang.org/grpc"
)

// Options tune how a plugin process is run.
type Options struct {
	// SocketDir holds the plugin's Unix socket; keep its path short (sockets are
	// limited to about 100 bytes of path).
	SocketDir string
	// StartTimeout bounds the handshake of a starting plugin.
	StartTimeout time.Duration
	// CallTimeout bounds every call whose context has no earlier deadline.
	CallTimeout time.Duration
	// Logger receives the host's lines about this plugin and the plugin's own lines.
	Logger hclog.Logger
	// OnRestart is called after a dead plugin process was replaced by a new one.
	OnRestart func()
}

// Process is one plugin executable and the process currently running it.
type Process struct {
	name     string
	path     string
	checksum []byte
	opts     Options
	log      hclog.Logger

	mu       sync.Mutex
	cur      *conn
	starting chan struct{} // closed when the start in progress ends
	startErr error         // why the last start failed
	crashes  int           // deaths in a row of processes that did not live long
	closed   bool
	stop     chan struct{}  // closed by Close, ends a backoff wait
	bg       sync.WaitGroup // kills of dead processes in flight

	metadata sdk.Metadata
}

// conn is one running process.
type conn struct {
	client  *plugin.Client
	rpc     connectorv1.ConnectorServiceClient
	started time.Time
	dropped chan struct{} // closed when the host stops using this process
	// known maps instance id to the configuration version this process holds, so a
	// call sends the configuration only when the process has not seen it.
	known sync.Map
}

// Start launches the plugin at path, reads its metadata, and returns it ready to call.
// checksum, when set, is the SHA-256 digest the file must have; it is checked right
// before every launch.
func Start(ctx context.Context, name, path string, checksum []byte, opts Options) (*Process, error) {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	p := &Process{name: name, path: path, checksum: checksum, opts: opts, log: opts.Logger.Named(name), stop: make(chan struct{})}
	c, err := p.launch()
	if err != nil {
		return nil, err
	}
	p.cur = c
	ctx, cancel := context.WithTimeout(ctx, opts.CallTimeout)
	defer cancel()
	resp, err := c.rpc.GetMetadata(ctx, &connectorv1.GetMetadataRequest{})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("plugin %s: reading metadata: %w", name, decodeError(err))
	}
	p.metadata = metadataFromProto(resp.GetMetadata())
	if p.metadata.ID == "" {
		p.Close()
		return nil, fmt.Errorf("plugin %s: metadata has no id", name)
	}
	return p, nil
}

// Name is the plugin's file name without the idplug-connector- prefix.
func (p *Process) Name() string { return p.name }

// Path is the executable.
func (p *Process) Path() string { return p.path }

// Metadata is what the plugin said about itself when it first started.
func (p *Process) Metadata() sdk.Metadata { return p.metadata }

// PID is the id of the running process, or 0 while none runs.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || p.cur.client.Exited() {
		return 0
	}
	if rc := p.cur.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Close stops the plugin process and waits for it to exit.
func (p *Process) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stop)
	starting := p.starting
	p.mu.Unlock()
	if starting != nil {
		<-starting // a start in flight sees closed and stops its own process
	}
	p.mu.Lock()
	c := p.cur
	p.cur = nil
	if c != nil {
		close(c.dropped)
	}
	p.mu.Unlock()
	if c != nil {
		c.client.Kill()
	}
	p.bg.Wait()
}

// explainStartError rewrites go-plugin's long handshake error into one line that says
// what the plugin did wrong.
func explainStartError(err error) error {
	const prefix = "Unrecognized remote plugin message: "
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return err
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(msg, prefix), "\n")
	if first == "" {
		return errors.New("the plugin exited before its handshake, without writing anything to stdout (is it an idplug plugin?)")
	}
	return fmt.Errorf("unrecognized plugin message %q instead of the handshake "+
		"(it is not an idplug plugin, or it prints to stdout before serving)", first)
}

func (p *Process) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// launch starts a new process and completes the handshake.
func (p *Process) launch() (*conn, error) {
	cmd := exec.Command(p.path)
	// The plugin gets none of the host's environment, only what it needs.
	cmd.Env = []string{
		wire.EnvLogLevel + "=" + levelName(p.log),
		plugin.EnvUnixSocketDir + "=" + p.opts.SocketDir,
	}
	var secure *plugin.SecureConfig
	if p.checksum != nil {
		// A fresh hash per launch: SecureConfig does not reset the one it is given.
		secure = &plugin.SecureConfig{Checksum: p.checksum, Hash: sha256.New()}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &grpcPlugin{}}},
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     p.opts.StartTimeout,
		Logger:           p.log,
	})
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("plugin %s: %s: checksum does not match SHA256SUMS", p.name, p.path)
		}
		return nil, fmt.Errorf("plugin %s: start: %w", p.name, explainStartError(err))
	}
	raw, err := rpcClient.Dispense(wire.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: %w", p.name, err)
	}
	c := &conn{client: client, rpc: raw.(connectorv1.ConnectorServiceClient), started: time.Now(), dropped: make(chan struct{})}
	p.bg.Add(1)
	go p.watch(c)
	return c, nil
}

// watch notices a process that died while nobody called it, and starts its
// replacement right away, so the next call finds a running plugin. go-plugin offers
// no exit notification, so it polls, cheaply.
func (p *Process) watch(c *conn) {
	defer p.bg.Done()
	t := time.NewTicker(exitPollInterval)
	defer t.Stop()
	for {
		select {
		case <-c.dropped:
			return
		case <-t.C:
			if c.client.Exited() {
				p.log.Warn("plugin process exited; restarting it")
				p.broken(c)
				p.ensureRunning()
				return
			}
		}
	}
}

const exitPollInterval = 100 * time.Millisecond

// ensureRunning starts a replacement process unless one runs or is starting, and
// returns a channel closed when the process is there (or failed to start). It
// returns nil once the Process is closed.
func (p *Process) ensureRunning() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil
	case p.starting != nil:
		return p.starting
	case p.cur != nil:
		done := make(chan struct{})
		close(done)
		return done
	}
	p.starting = make(chan struct{})
	go p.restart(p.starting, p.backoffLocked())
	return p.starting
}

// current returns the running process, starting a new one when the last one died.
// Concurrent callers share one start.
func (p *Process) current(ctx context.Context) (*conn, error) {
	p.mu.Lock()
	if c := p.cur; c != nil && !c.client.Exited() {
		p.mu.Unlock()
		return c, nil
	} else if c != nil {
		p.dropLocked(c)
	}
	p.mu.Unlock()

	starting := p.ensureRunning()
	if starting == nil {
		return nil, &sdk.Error{Code: sdk.CodePluginUnavailable, Message: fmt.Sprintf("plugin %s is stopped", p.name)}
	}
	select {
	case <-starting:
	case <-ctx.Done():
		return nil, &sdk.Error{Code: sdk.CodePluginUnavailable, Message: fmt.Sprintf("plugin %s is restarting", p.name)}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		return p.cur, nil
	}
	return nil, &sdk.Error{Code: sdk.CodePluginUnavailable, Message: fmt.Sprintf("plugin %s could not be restarted: %v", p.name, p.startErr)}
}

// restart launches a replacement process after delay and publishes it.
func (p *Process) restart(done chan struct{}, delay time.Duration) {
	if delay > 0 {
		p.log.Warn("plugin keeps exiting; waiting before the next start", "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
		}
	}
	var c *conn
	var err error
	if p.isClosed() {
		err = errors.New("host is shutting down")
	} else {
		c, err = p.launch()
	}
	p.mu.Lock()
	p.starting = nil
	if p.closed && c != nil {
		close(c.dropped)
		p.bg.Add(1)
		go func(c *conn) {
			defer p.bg.Done()
			c.client.Kill()
		}(c)
		c, err = nil, errors.New("host is shutting down")
	}
	p.cur, p.startErr = c, err
	p.mu.Unlock()
	close(done)
	if err != nil {
		p.log.Error("plugin restart failed", "error", err)
		return
	}
	p.log.Info("plugin restarted", "pid", c.client.ReattachConfig().Pid)
	if p.opts.OnRestart != nil {
		p.opts.OnRestart()
	}
}

// broken reports that a call on c failed because the process is gone or unreachable.
// Only the first report for a process replaces it.
func (p *Process) broken(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == c {
		p.dropLocked(c)
	}
}

// dropLocked forgets c and kills it in the background. p.mu must be held.
func (p *Process) dropLocked(c *conn) {
	p.cur = nil
	close(c.dropped)
	if time.Since(c.started) < 10*time.Second {
		p.crashes++
	} else {
		p.crashes = 0
	}
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		c.client.Kill()
	}()
}

// backoffLocked is how long to wait before the next start: nothing after a plugin
// that ran for a while, then doubling for plugins that die right after they start.
func (p *Process) backoffLocked() time.Duration {
	if p.crashes <= 1 {
		return 0
	}
	d := 50 * time.Millisecond << min(p.crashes-2, 8)
	return min(d, 10*time.Second)
}

func levelName(l hclog.Logger) string {
	switch {
	case l.IsTrace():
		return "trace"
	case l.IsDebug():
		return "debug"
	case l.IsInfo():
		return "info"
	case l.IsWarn():
		return "warn"
	default:
		return "error"
	}
}

// grpcPlugin is the host side of go-plugin's GRPCPlugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host does not serve connectors")
}

func (grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return connectorv1.NewConnectorServiceClient(cc), nil
}
