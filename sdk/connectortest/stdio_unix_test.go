//go:build unix

package connectortest

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// divert sends file descriptor fd to a pipe until the test ends, and returns
// what was written to it by then.
func divert(t *testing.T, fd int) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup2(int(w.Fd()), fd); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			_ = unix.Dup2(saved, fd)
			_ = unix.Close(saved)
			_ = w.Close()
		}
	}
	t.Cleanup(func() {
		restore()
		_ = r.Close()
	})
	return func() string {
		restore()
		b, _ := io.ReadAll(r)
		return string(b)
	}
}

// TestPrintedDuringReadsWhatTheProcessPrints: what a connector prints, by
// any of the ways Go has, is read, and then passed on to where it would have
// gone (here pipes of the test's, so that the test's own output stays clean).
func TestPrintedDuringReadsWhatTheProcessPrints(t *testing.T) {
	passedOnOut, passedOnErr := divert(t, 1), divert(t, 2)
	stdout, stderr, err := printedDuring(func() {
		fmt.Println("fmt.Println")
		fmt.Fprintln(os.Stderr, "fmt.Fprintln(os.Stderr)")
		log.Print("log.Print") // the log package's writer, taken when it started
		println("println")     // the runtime's own writes
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOut, wantErr := []string{"fmt.Println"}, []string{"fmt.Fprintln(os.Stderr)", "log.Print", "println"}
	for _, c := range []struct {
		what, got string
		want      []string
	}{
		{"standard output", stdout, wantOut},
		{"standard error", stderr, wantErr},
		{"standard output, passed on", passedOnOut(), wantOut},
		{"standard error, passed on", passedOnErr(), wantErr},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.got, w) {
				t.Errorf("%s: %q; want it to hold %q", c.what, c.got, w)
			}
		}
	}
}
