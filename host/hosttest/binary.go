// Package hosttest runs a connector's plugin binary through the host, in the
// sandbox, as idplug serve does, for the conformance kit (sdk/connectortest):
//
//	func TestKit(t *testing.T) { connectortest.Run(t, hosttest.Binary("."), opts) }
//
// It lives on the host's side of the one-way line between the SDK and the host: the
// kit itself never imports the host, so a connector that tests only in process
// depends on the SDK alone.
package hosttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/gobuild"
	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// pluginPrefix starts the file name of every plugin executable.
const pluginPrefix = wire.PluginFilePrefix

// instanceID is the instance the kit configures, so messages name the same one.
const instanceID = connectortest.InstanceID

// Options adjust how the host runs the binary.
type Options struct {
	// Sandbox is how the host confines the plugin; the zero value is idplug
	// serve's default (everything the kernel supports).
	Sandbox sandbox.Policy
}

// Binary makes a kit target of a plugin binary, confined as idplug serve confines
// it by default. path is either a folder holding the plugin's main package, which
// is built with `go build -trimpath`, static as the idplug image needs its plugins
// (set CGO_ENABLED=1 for one that needs cgo; use "." for the package of the test
// itself), or an executable that is already built.
func Binary(path string) connectortest.Target { return Options{}.Binary(path) }

// Binary makes a kit target of a plugin binary, run with these options.
//
// The binary is installed in a fresh plugin folder with a SHA256SUMS file, and that
// folder is opened with the host package, as `idplug serve` does; every call goes
// through the host: the checks see the plugin exactly as an identity server would,
// over the wire, in its own process, with its own environment (none). A panic comes
// back as the SDK reports it, and a crash as a restart of the process; both are
// reported as defects.
func (o Options) Binary(path string) connectortest.Target {
	return connectortest.Drive("plugin binary "+path, func(t connectortest.T, timeout time.Duration) (connectortest.Driver, error) {
		t.Helper()
		bin, err := binaryFile(t, path)
		if err != nil {
			return nil, err
		}
		return openHost(t, bin, o.Sandbox, timeout)
	})
}

// binaryFile returns path when it is a file, and builds it first when it is a folder.
func binaryFile(t connectortest.T, path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("plugin %s: %w", path, err)
	}
	if !info.IsDir() {
		return path, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	out := filepath.Join(t.TempDir(), pluginPrefix+pluginName(filepath.Base(abs)))
	if err := gobuild.Build(t.Context(), abs, ".", out); err != nil {
		return "", fmt.Errorf("in %s: %w", abs, err)
	}
	return out, nil
}

var (
	nameRE      = wire.PluginNameRE
	notNameChar = regexp.MustCompile(`[^a-z0-9_-]+`)
)

// pluginName turns a file or folder name into a name the plugin folder accepts.
func pluginName(base string) string {
	name := strings.TrimPrefix(base, pluginPrefix)
	if nameRE.MatchString(name) {
		return name
	}
	name = strings.Trim(notNameChar.ReplaceAllString(strings.ToLower(name), "-"), "-_")
	if !nameRE.MatchString(name) {
		return "connector"
	}
	return name
}

// openHost lays out a plugin folder holding bin and opens it with the host.
func openHost(t connectortest.T, bin string, policy sandbox.Policy, timeout time.Duration) (*binaryDriver, error) {
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	file := pluginPrefix + pluginName(filepath.Base(bin))
	sum, err := copyExecutable(bin, filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sum+"  "+file+"\n"), 0o644); err != nil {
		return nil, err
	}

	d := &binaryDriver{logs: &connectortest.LogBuffer{}, timeout: timeout}
	h, err := host.Open(t.Context(), host.Options{
		PluginDir:   dir,
		CallTimeout: timeout,
		Sandbox:     policy,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "idplug",
			// Debug: what a plugin writes to stderr that is not a log line (such as
			// why the SDK refused to serve it) comes out at that level.
			Level:  hclog.Debug,
			Output: d.logs,
		}),
		OnRestart: func(string) { d.restarts.Add(1) },
	})
	if err != nil {
		return nil, fmt.Errorf("host.Open: %w", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	d.h = h
	if refused := h.Refused(); len(refused) > 0 {
		return nil, fmt.Errorf("the host refused the plugin: %s: %s\nplugin log:\n%s", refused[0].File, refused[0].Reason, d.Log())
	}
	plugins := h.Plugins()
	if len(plugins) != 1 {
		return nil, fmt.Errorf("the host runs %d plugins from a folder holding only %s", len(plugins), file)
	}
	d.proc = plugins[0].Proc
	d.meta = d.proc.Metadata()
	return d, nil
}

// copyExecutable copies src to dst with mode 0755 and returns its SHA-256 digest.
func copyExecutable(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), os.Chmod(dst, 0o755)
}

type binaryDriver struct {
	h        *host.Host
	proc     *process.Process
	meta     sdk.Metadata
	restarts atomic.Int64
	logs     *connectortest.LogBuffer
	timeout  time.Duration
}

func (d *binaryDriver) Metadata() sdk.Metadata  { return d.meta }
func (d *binaryDriver) Deaths() int             { return int(d.restarts.Load()) }
func (d *binaryDriver) Log() string             { return d.logs.String() }
func (d *binaryDriver) LogMark() int64          { return d.logs.Mark() }
func (d *binaryDriver) LogSince(m int64) string { return d.logs.Since(m) }

// ParseConfig sends raw to the plugin's ValidateConfig, as host.Configure does, under
// a version of its own so that the plugin parses it.
func (d *binaryDriver) ParseConfig(ctx context.Context, raw []byte) error {
	sum := sha256.Sum256(raw)
	fields, err := d.proc.ValidateConfig(ctx, process.Instance{ID: instanceID + "-parse", Version: hex.EncodeToString(sum[:16]), Config: raw})
	if err != nil {
		return d.wireError("ParseConfig", err)
	}
	if len(fields) > 0 {
		return &sdk.ConfigError{Fields: fields}
	}
	return nil
}

func (d *binaryDriver) Configure(ctx context.Context, raw []byte) error {
	err := d.h.Configure(ctx, []host.InstanceConfig{{ID: instanceID, Plugin: d.meta.ID, Config: raw}})
	if err != nil {
		return d.wireError("ParseConfig", err)
	}
	return nil
}

func (d *binaryDriver) AuthorizationURI(ctx context.Context, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	auth, err := d.h.AuthorizationURI(ctx, instanceID, req.RedirectURI, req.State)
	return auth, d.wireError("AuthorizationURI", err)
}

func (d *binaryDriver) UserInfo(ctx context.Context, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	res, err := d.h.UserInfo(ctx, instanceID, req.Session, req.Callback)
	if err != nil {
		return nil, d.wireError("UserInfo", err)
	}
	return &res.UserInfoResult, nil
}

func (d *binaryDriver) Refresh(ctx context.Context, refreshToken string) (*sdk.TokenSet, error) {
	tokens, err := d.h.RefreshTokens(ctx, instanceID, refreshToken)
	return tokens, d.wireError("Refresh", err)
}

// wireError recognizes, in what the host returns, the failures the SDK and the host
// report for a panic, a hang and a dead process.
func (d *binaryDriver) wireError(method string, err error) error {
	if err == nil {
		return nil
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Code == sdk.CodeGeneral && strings.HasPrefix(e.Message, "connector panicked: "):
		return connectortest.Panicked(method, strings.TrimPrefix(e.Message, "connector panicked: "))
	case e.Code == sdk.CodeInvalidConfig && strings.HasPrefix(e.Message, "parsing the configuration panicked: "):
		return connectortest.Panicked(method, strings.TrimPrefix(e.Message, "parsing the configuration panicked: "))
	case e.Code == host.CodePluginTimeout:
		return connectortest.Hung(method, d.timeout)
	case e.Code == host.CodePluginUnavailable:
		return connectortest.Died(method, e)
	}
	return e
}
