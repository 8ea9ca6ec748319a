// Command misbehave is a connector plugin that fails on purpose, for the host's tests.
// What it does at start depends on its file name (idplug-connector-<name>):
//
//	*stdout*       writes to stdout before the handshake
//	*nohandshake*  never starts serving
//	*crashstart*   exits at once
//	*crashlater*   serves, then exits (code 8) when it gets SIGUSR1: a crash
//	               outside any call, at a moment the test picks
//	*manyhosts*    declares 100,000 egress hosts in its metadata
//
// Calls behave as the instance's config says: {"mode": "ok" | "panic" | "hang" | "exit" |
// "slow" | "logs" | "flood" | "crash" | "bigreply" | "heldreply" | "helduserinfo" | "bigheader" |
// "bigtrailer" | "bigerror" | "bigproblems",
// "delay": "1s", "lines": 100000, "calls": 20}: logs writes one line per level; flood writes
// "lines" info lines, then one warning and one error; crash panics outside any
// call, killing the process; bigreply answers with a 5 MiB URL; heldreply holds
// every call until "calls" of them are in, then answers each with a 1 MiB URL
// (a reply under the host's limit, and over the limit of a call made while the
// others hold the plugin's reply budget); helduserinfo holds its callbacks
// (UserInfo) the same way, then finishes each sign-in; bigheader and bigtrailer answer with a
// 100 KiB header or trailer, past the SDK's error bounds; bigerror fails
// with a 32 KiB message, 16 KiB of details and a code of no known shape;
// bigproblems finds 1,000 problems of 2 KiB each in its configuration;
// rawstderr writes JSON lines of its own to stderr, past the SDK's logger,
// whose hclog fields are not strings; orphan leaves a child in a session of
// its own, waiting for a signal.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/idplug/idplug/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "idplug-connector-")
	switch {
	case strings.Contains(name, "stdout"):
		fmt.Println("hello from a plugin that talks too early")
	case strings.Contains(name, "nohandshake"):
		// Asleep, not blocked for good: a static binary with nothing else to
		// run would be stopped by Go's deadlock check, and exit.
		time.Sleep(time.Duration(math.MaxInt64))
	case strings.Contains(name, "crashstart"):
		os.Exit(7)
	case strings.Contains(name, "crashlater"):
		// On a signal, not after a while: a start on a loaded machine
		// (handshake, metadata) can take longer than any fixed delay, and a
		// process that dies before its start is done is a failed start to the
		// host, not a crash of a running plugin.
		crash := make(chan os.Signal, 1)
		signal.Notify(crash, syscall.SIGUSR1)
		go func() {
			<-crash
			os.Exit(8)
		}()
	}
	// The runtime settings of the bundled plugins: the host's tests check that
	// they take effect in a plugin it runs.
	sdk.Serve(connector{id: name}, sdk.WithAdaptiveProcs(true), sdk.WithGCHeadroom(sdk.DefaultGCHeadroom))
}

type config struct {
	Mode  string `json:"mode"`
	Delay string `json:"delay"`
	Lines int    `json:"lines"`
	Calls int    `json:"calls"`
	// ID is the profile id UserInfo answers with (the process id when unset).
	ID string `json:"id"`
}

type connector struct{ id string }

func (c connector) Metadata() sdk.Metadata {
	var hosts []string
	if strings.Contains(c.id, "manyhosts") {
		for i := range 100_000 {
			hosts = append(hosts, fmt.Sprintf("h%d.example.test", i))
		}
	}
	return sdk.Metadata{
		EgressHosts: hosts,
		ID:          c.id,
		Target:      c.id,
		Platform:    sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "Misbehave " + c.id},
		Description: sdk.I18n{"en": "Fails on purpose."},
		IsStandard:  true,
	}
}

func (connector) ParseConfig(raw []byte) (config, error) {
	var cfg config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, err
	}
	switch cfg.Mode {
	case "", "ok", "panic", "hang", "exit", "logs", "flood", "crash", "bigreply", "bigerror", "rawstderr", "orphan",
		"bigheader", "bigtrailer":
		return cfg, nil
	case "heldreply", "helduserinfo":
		if cfg.Calls > 0 {
			return cfg, nil
		}
	case "bigproblems":
		var ce sdk.ConfigError
		for i := range 1000 {
			ce.Add(fmt.Sprintf("field%d", i)+strings.Repeat("f", 300), "%s", strings.Repeat("é", 1024))
		}
		return cfg, ce.Err()
	case "slow":
		if _, err := time.ParseDuration(cfg.Delay); err == nil {
			return cfg, nil
		}
	}
	var ce sdk.ConfigError
	ce.Add("mode", "must be ok, panic, hang or exit, not %q", cfg.Mode)
	return cfg, ce.Err()
}

// Release logs the instance the host let go, for the host's release tests; in mode
// hang it never returns.
func (connector) Release(ctx context.Context, id string, cfg config) {
	if cfg.Mode == "hang" {
		sdk.Logger(ctx).Info("release hangs for " + id)
		select {}
	}
	sdk.Logger(ctx).Info("released instance "+id, "mode", cfg.Mode)
}

func (connector) AuthorizationURI(ctx context.Context, cfg config, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	switch cfg.Mode {
	case "panic":
		panic("boom in " + req.InstanceID)
	case "hang":
		select {} // ignores its deadline, like a connector stuck in a loop
	case "exit":
		os.Exit(9)
	case "slow":
		d, _ := time.ParseDuration(cfg.Delay)
		time.Sleep(d)
	case "logs":
		log := sdk.Logger(ctx)
		log.Debug("misbehave debug line")
		log.Info("misbehave info line")
		log.Warn("misbehave warning line", "instance", req.InstanceID)
		log.Error("misbehave error line", "instance", req.InstanceID)
	case "flood":
		log := sdk.Logger(ctx)
		for i := range cfg.Lines {
			log.Info("misbehave flood line", "n", i)
		}
		log.Warn("misbehave warning after the flood")
		log.Error("misbehave error after the flood")
	case "crash":
		go func() { panic("misbehave crash outside a call") }()
		select {}
	case "bigreply":
		return &sdk.Authorization{RedirectTo: "https://idp.test/?" + strings.Repeat("a", 5<<20)}, nil
	case "bigheader":
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-big", strings.Repeat("h", 100<<10)))
	case "bigtrailer":
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-big", strings.Repeat("t", 100<<10)))
	case "heldreply":
		if err := holdUntilAllIn(ctx, cfg.Calls); err != nil {
			return nil, err
		}
		return &sdk.Authorization{RedirectTo: "https://idp.test/?" + strings.Repeat("a", 1<<20)}, nil
	case "orphan":
		if err := leaveChild(); err != nil {
			return nil, err
		}
	case "rawstderr":
		for _, line := range []string{
			`{"@message":1,"@level":"warn","n":1}`,
			`{"@level":["error"],"@message":"a level that is a list","n":2}`,
			`{"@message":null,"@level":"warn","n":3}`,
			`{"@message":"a timestamp that is a number","@level":"warn","@timestamp":5,"n":4}`,
			`{"@message":"a string","@message":{"then":"an object"},"@level":"warn","n":5}`,
		} {
			// File descriptor 2 itself: go-plugin's Serve sends what is written
			// to the os.Stderr variable over its gRPC stdio stream instead.
			_, _ = syscall.Write(2, []byte(line+"\n"))
		}
	case "bigerror":
		return nil, &sdk.Error{Code: "Retry-After: 0\r\nX-Evil: 1", Message: strings.Repeat("é", 16<<10),
			Details: map[string]any{"blob": strings.Repeat("d", 16<<10)}}
	}
	return &sdk.Authorization{
		RedirectTo: "https://idp.test/authorize?state=" + req.State,
		Session: sdk.Session{"process": processID, "gogc": strconv.FormatUint(gcPercent(), 10),
			"procs": strconv.Itoa(runtime.GOMAXPROCS(0))},
	}, nil
}

// The calls modes heldreply and helduserinfo have taken, and closed when the last they hold came in.
var (
	held  atomic.Int64
	allIn = make(chan struct{})
)

// holdUntilAllIn holds a call until the calls-th has come in, or its context ends.
func holdUntilAllIn(ctx context.Context, calls int) error {
	if held.Add(1) == int64(calls) {
		close(allIn)
	}
	select {
	case <-allIn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// processID tells this process from another start of the same plugin (a
// replacement, a restart): the plugin's own pid is 1 in its PID namespace, and
// its /proc shows no other.
var processID = func() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// gcPercent reads the garbage collector's target the SDK set, without changing it.
func gcPercent() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func (connector) UserInfo(ctx context.Context, cfg config, _ sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	if cfg.Mode == "helduserinfo" {
		if err := holdUntilAllIn(ctx, cfg.Calls); err != nil {
			return nil, err
		}
	}
	if cfg.ID != "" {
		return &sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: cfg.ID}}, nil
	}
	return &sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: processID}}, nil
}
