package main

import (
	"context"
	"fmt"
	"io"

	"github.com/idplug/idplug/host/store"
)

// validateCmd checks the configuration file and every connector instance with its
// plugin, prints every problem, and exits non-zero when there is one.
func validateCmd(args []string, stdout, stderr io.Writer) int {
	path, cfg, code := loadConfig("validate", args, stderr)
	if cfg == nil {
		return code
	}
	cfg.LogLevel = "error" // plugin start-up chatter would bury the report
	// What serve would refuse about the store, without connecting to it.
	if cfg.Store.Enabled() {
		if err := store.Check(cfg.Store.URL); err != nil {
			fmt.Fprintf(stderr, "%s: store.url: %v\n", path, err)
			return 1
		}
	}
	h, err := openHost(context.Background(), path, cfg, newLogger(cfg, stderr), nil, false, nil, listenPorts(cfg))
	if err != nil {
		printError(stderr, err)
		return 1
	}
	defer h.Close()
	for _, e := range h.Refused() {
		fmt.Fprintf(stderr, "warning: plugin file %s refused: %s\n", termLine(e.File), termLine(e.Reason))
	}
	for _, w := range idleSettings(cfg) {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d connectors, %d plugins)\n", path, len(h.Instances()), len(h.Catalog()))
	return 0
}
