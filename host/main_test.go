package host_test

import (
	"os"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperHostEnv) != "" {
		runHelperHost() // never returns
	}
	if os.Getenv(hostileHostEnv) != "" {
		runHostileHost() // never returns
	}
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

const (
	examplePkg   = "./plugins/example"
	misbehavePkg = "./host/testdata/misbehave"
	olderPkg     = "./host/testdata/older"
)
