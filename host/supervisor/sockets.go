package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// socketPrefix starts the name of every host's socket folder; ownerFile inside
// names the process that made it ("<pid> <start time>"), so that a later host can
// tell a folder left by a killed host from one in use.
const (
	socketPrefix = "idplug-"
	ownerFile    = "owner"
)

// SocketBase is where each supervisor makes its private sockets folder (idplug-*).
// Socket paths are limited to about 100 bytes, and TMPDIR can be long, so it
// falls back to /tmp.
func SocketBase() string {
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	return base
}

// makeSocketDir makes the host's private folder for its plugins' socket folders.
// shared makes it searchable (not listable) by others, for plugins that run as
// another user.
func makeSocketDir(shared bool) (string, error) {
	dir, err := os.MkdirTemp(SocketBase(), socketPrefix)
	if err != nil {
		return "", fmt.Errorf("socket folder: %w", err)
	}
	if shared {
		if err := os.Chmod(dir, 0o711); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("socket folder: %w", err)
		}
	}
	self := os.Getpid()
	owner := strconv.Itoa(self) + " " + startTime(self) + "\n"
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("socket folder: %w", err)
	}
	return dir, nil
}

// removeStaleSocketDirs removes the socket folders of this user's hosts that are
// gone (killed before they could clean up). A folder without an owner file, of
// another user, or whose owner still runs is left alone.
func removeStaleSocketDirs(log hclog.Logger) {
	base := SocketBase()
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	uid := uint32(os.Geteuid())
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), socketPrefix) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		info, err := os.Lstat(dir)
		if err != nil || !info.IsDir() {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); !ok || st.Uid != uid {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pidText, started, _ := strings.Cut(strings.TrimSpace(string(raw)), " ")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || (started != "" && startTime(pid) == started) {
			continue // unreadable, or its host still runs
		}
		if err := os.RemoveAll(dir); err == nil {
			log.Info("removed the socket folder of a host that is gone", "dir", dir, "pid", pid)
		}
	}
}

// startTime is field 22 of /proc/<pid>/stat (when the process started, in clock
// ticks since boot), which tells a process from a later one that reuses its pid;
// "" when no such process runs.
func startTime(pid int) string {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces; fields after it do not.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}
