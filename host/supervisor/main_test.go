package supervisor_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/supervisor"
	"github.com/idplug/idplug/internal/plugintest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

const (
	examplePkg   = "./plugins/example"
	misbehavePkg = "./host/testdata/misbehave"
)

// open starts a supervisor on dir and closes it when the test ends.
func open(t *testing.T, dir string, opts supervisor.Options) *supervisor.Supervisor {
	t.Helper()
	opts.PluginDir = dir
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
	}
	s, err := supervisor.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
