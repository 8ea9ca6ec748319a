package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/idplug/idplug/bench/internal/suite"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/sdk"
)

// bridge is the host package signing in through idplug-connector-logto-oauth: Logto's
// connector-oauth, unchanged, in the plugin's Node child process.
type bridge struct {
	host     *host.Host
	plugin   int
	node     int
	sessions []sdk.Session
}

// startBridge lays out a plugin folder as make build does (the plugin file beside the
// bundle, hard links of bin/plugins) and configures the same connector as Logto's.
func startBridge(o options, tmp string, cfg map[string]any) (*bridge, error) {
	src := filepath.Dir(o.bridgePlugin)
	dir := filepath.Join(tmp, "bridge-plugins")
	if err := suite.PluginFolder(dir, o.bridgePlugin, "logto-oauth"); err != nil {
		return nil, err
	}
	if err := linkTree(filepath.Join(src, "logto-bundle"), filepath.Join(dir, "logto-bundle")); err != nil {
		return nil, err
	}
	if err := os.Link(filepath.Join(src, "logto-bundle.sha256"), filepath.Join(dir, "logto-bundle.sha256")); err != nil {
		return nil, err
	}
	ctx := context.Background()
	// Under the default sandbox, as operators run it: Node executes from the
	// plugin family's support folder (logto-bundle).
	h, err := host.Open(ctx, host.Options{PluginDir: dir, Sandbox: sandbox.Policy{}})
	if err != nil {
		return nil, err
	}
	b := &bridge{host: h}
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "bench", Plugin: "logto-oauth2", Config: mustJSON(cfg)}}); err != nil {
		b.close()
		return nil, err
	}
	p, _ := h.Plugin("logto-oauth2")
	b.plugin = p.PID()
	for i := range flowsPerCase {
		a, err := h.AuthorizationURI(ctx, "bench", suite.RedirectURI, fmt.Sprintf("%s%03d", state[:len(state)-3], i))
		if err != nil {
			b.close()
			return nil, err
		}
		b.sessions = append(b.sessions, a.Session)
	}
	if kids := childPIDs(b.plugin); len(kids) == 1 {
		b.node = kids[0]
	} else {
		b.close()
		return nil, fmt.Errorf("the bridge plugin runs %d child processes, want one Node", len(kids))
	}
	return b, nil
}

func (b *bridge) close() { _ = b.host.Close() }

func (b *bridge) op() suite.Op {
	return func(ctx context.Context, w, i int) error {
		k := (w + i*16) % flowsPerCase
		res, err := b.host.UserInfo(ctx, "bench", b.sessions[k], map[string]string{"code": "bench-code", "state": b.sessions[k]["state"]})
		if err != nil {
			return err
		}
		return wantID(res.UserInfo.ID, nil)
	}
}

// linkTree recreates src at dst with hard links.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return os.Link(path, filepath.Join(dst, rel))
	})
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, child)
		}
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
