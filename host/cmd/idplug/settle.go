package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/idplug/idplug/host/config"
)

// configSettleTime is how long the configuration file must have stayed
// unchanged before a reload reads it. A file written in place (an editor that
// truncates it and writes it again, `cat > idplug.yaml`, a tool writing in
// pieces) is empty or cut short until its writer is done, and a file cut
// between two connectors is a valid one: applied, it removes them, and their
// browsers and the OpenID Provider's grants made through them end for good.
const configSettleTime = 500 * time.Millisecond

// configSettleLimit bounds the wait for a file that keeps changing.
const configSettleLimit = 10 * time.Second

// fileStamp identifies one version of a file: a write, a truncation, a
// rename over it or a swap of a link on its path (Kubernetes' `..data`)
// changes it.
type fileStamp struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

func stampFile(path string) (fileStamp, error) {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	s := fileStamp{size: info.Size(), mtime: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
		s.ctime = st.Ctim.Nano()
	}
	return s, nil
}

// changedAgo is how long ago the file last changed, by its inode's change
// time: every write moves it, and unlike the modification time no one can
// set it (a copy that keeps the modification time, `touch -d`).
func (s fileStamp) changedAgo() time.Duration {
	if s.ctime == 0 {
		return time.Since(time.Unix(0, s.mtime))
	}
	return time.Since(time.Unix(0, s.ctime))
}

// loadSettled loads the configuration file for a reload once it has not
// changed for configSettleTime, and loads it again when it changed while it
// was read, so a reload that comes while the file is being written reads
// what the writer finished. notice is called once when the reload waits.
func loadSettled(ctx context.Context, path string, notice func(ago time.Duration)) (*config.Config, error) {
	deadline := time.Now().Add(configSettleLimit)
	noticed := false
	for {
		before, err := stampFile(path)
		if err != nil {
			return config.Load(path) // it says what is wrong with the path
		}
		// A change time in the future (a clock set back) is no writer at work.
		if ago := before.changedAgo(); ago >= 0 && ago < configSettleTime {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("config: %s kept changing for %s; reload once it is written", path, configSettleLimit)
			}
			if !noticed {
				notice(ago)
				noticed = true
			}
			t := time.NewTimer(configSettleTime - ago)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
			continue
		}
		cfg, err := config.Load(path)
		if after, serr := stampFile(path); serr == nil && after == before {
			if before.size == 0 {
				// Truncated, and not written again: say that, not what
				// an empty file lacks.
				return nil, fmt.Errorf("config: %s is empty", path)
			}
			return cfg, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("config: %s kept changing for %s; reload once it is written", path, configSettleLimit)
		}
	}
}
