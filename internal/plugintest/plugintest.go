// Package plugintest builds real plugin binaries for tests and lays out plugin folders.
package plugintest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/internal/gobuild"
	"github.com/idplug/idplug/internal/wire"
)

// RepoRoot is the folder holding idplug's go.mod, found by walking up from the
// working directory; the go.mod of a module nested in the repository (a test
// module with dependencies of its own) is passed over.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isIdplugModule(mod) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("idplug's go.mod (module github.com/idplug/idplug) not found above the working directory")
		}
		dir = parent
	}
}

// isIdplugModule reports whether a go.mod declares idplug's module.
func isIdplugModule(mod []byte) bool {
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == "github.com/idplug/idplug"
		}
	}
	return false
}

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// Binary builds the Go command at pkg (a path relative to the repository root, such
// as "./plugins/example") once per test process and returns the binary's path.
// Call Cleanup from TestMain to remove the binaries.
func Binary(tb testing.TB, pkg string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if path, ok := built[pkg]; ok {
		return path
	}
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	if buildDir == "" {
		if buildDir, err = os.MkdirTemp("", "idplug-bin-"); err != nil {
			tb.Fatal(err)
		}
	}
	out := filepath.Join(buildDir, fmt.Sprintf("bin%d", len(built)))
	if err := gobuild.Build(context.Background(), root, pkg, out); err != nil {
		tb.Fatal(err)
	}
	built[pkg] = out
	return out
}

// Cleanup removes the binaries Binary built.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	buildDir, built = "", map[string]string{}
}

// Folder returns a new, private plugin folder that the test removes when it ends.
func Folder(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Install copies the binary src into dir as idplug-connector-<name> with mode 0755
// and returns its path.
func Install(tb testing.TB, dir, src, name string) string {
	tb.Helper()
	dst := filepath.Join(dir, wire.PluginFilePrefix+name)
	if err := CopyFile(src, dst, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// CopyFile copies src to dst and gives dst the mode.
func CopyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// SHA256 is the hex SHA-256 digest of the file at path, as SHA256SUMS lists it.
func SHA256(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
