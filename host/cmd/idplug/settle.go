package main

import (
	"context"
	"fmt"
	"time"

	"github.com/idplug/idplug/host/config"
)

// configSettleTime is how long the configuration file, and every file its
// ${file:} references read, must have stayed unchanged before a reload uses
// them. A file written in place (an editor that truncates it and writes it
// again, `cat > idplug.yaml`, a tool writing in pieces) is empty or cut short
// until its writer is done, and a file cut between two connectors is a valid
// one: applied, it removes them, and their browsers and the OpenID Provider's
// grants made through them end for good; a secret cut short is served as it
// is, and fails only at sign-in.
const configSettleTime = 500 * time.Millisecond

// configSettleLimit bounds the wait for a file that keeps changing.
const configSettleLimit = 10 * time.Second

// unsettled says whether a file changed ago is too fresh to be read. A change
// time in the future (a clock set back) is no writer at work.
func unsettled(ago time.Duration) bool { return ago >= 0 && ago < configSettleTime }

// loadSettled loads the configuration file for a reload once it, and every
// file its ${file:} references read, has not changed for configSettleTime, and
// loads it again when it changed while it was read, so a reload that comes
// while a file is being written reads what the writer finished. (The set of
// secret files is read consistently by config itself, at every load; only the
// wait is the reload's: a start reads files its operator wrote before.)
// notice is called once for each file the reload waits for.
func loadSettled(ctx context.Context, path string, notice func(file string, ago time.Duration)) (*config.Config, error) {
	deadline := time.Now().Add(configSettleLimit)
	noticed := map[string]bool{}
	keptChanging := func(file string) error {
		return fmt.Errorf("config: %s kept changing for %s; reload once it is written", file, configSettleLimit)
	}
	// settle waits until file, changed ago, has not changed for configSettleTime.
	settle := func(file string, ago time.Duration) error {
		if time.Now().After(deadline) {
			return keptChanging(file)
		}
		if !noticed[file] {
			notice(file, ago)
			noticed[file] = true
		}
		t := time.NewTimer(configSettleTime - ago)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		before, err := config.StatFile(path)
		if err != nil {
			return config.Load(path) // it says what is wrong with the path
		}
		if ago := time.Since(before.Changed()); unsettled(ago) {
			if err := settle(path, ago); err != nil {
				return nil, err
			}
			continue
		}
		cfg, secrets, err := config.LoadWithSecretFiles(path)
		if after, serr := config.StatFile(path); serr != nil || after != before {
			if time.Now().After(deadline) {
				return nil, keptChanging(path)
			}
			continue
		}
		if before.Empty() {
			// Truncated, and not written again: say that, not what
			// an empty file lacks.
			return nil, fmt.Errorf("config: %s is empty", path)
		}
		if s, ago, ok := freshSecret(secrets); ok {
			if err := settle(s, ago); err != nil {
				return nil, err
			}
			continue
		}
		return cfg, err
	}
}

// freshSecret returns a secret file that changed less than configSettleTime
// before it was read, and how long ago that was.
func freshSecret(files []config.SecretFile) (string, time.Duration, bool) {
	for _, f := range files {
		if ago := time.Since(f.Changed); unsettled(ago) {
			return f.Path, ago, true
		}
	}
	return "", 0, false
}
