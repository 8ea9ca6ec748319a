//go:build unix

package connectortest

import (
	"errors"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// stdioMu makes one capture at a time: file descriptors 1 and 2 are the whole
// process's, shared by every test running in parallel.
var stdioMu sync.Mutex

// maxPrinted is how much of what was printed the kit searches, on each
// descriptor; what is past it is passed on unread.
const maxPrinted = 1 << 20

// printedDuring runs f with the process's standard output and error (file
// descriptors 1 and 2, whatever writes to them: fmt.Print, log.Printf,
// println, a child process) going to files of the kit's, and returns what was
// written to each, at most maxPrinted bytes. What was written is passed on to
// where it would have gone once f returns. The descriptors are redirected, not
// the os.Stdout and os.Stderr variables, which other goroutines read without
// a lock: a race, and a log.Logger made before keeps the old *os.File.
func printedDuring(f func()) (stdout, stderr string, err error) {
	stdioMu.Lock()
	defer stdioMu.Unlock()
	out, err := captureFD(1)
	if err != nil {
		return "", "", err
	}
	errOut, err := captureFD(2)
	if err != nil {
		_, restoreErr := out.restore()
		return "", "", errors.Join(err, restoreErr)
	}
	// A crash meanwhile (a test's -timeout) would print into the kit's file
	// alone, which nobody would read. (A crash output the test set itself is
	// undone: there is no asking for it.)
	_ = debug.SetCrashOutput(errOut.saved, debug.CrashOptions{})
	restore := func() (string, string, error) {
		_ = debug.SetCrashOutput(nil, debug.CrashOptions{})
		stdout, err1 := out.restore()
		stderr, err2 := errOut.restore()
		return stdout, stderr, errors.Join(err1, err2)
	}
	returned := false
	defer func() {
		if !returned { // f ended the goroutine (a check's Fatalf)
			_, _, _ = restore()
		}
	}()
	f()
	returned = true
	return restore()
}

// fdCapture is one file descriptor sent to a file of the kit's.
type fdCapture struct {
	fd int
	// saved is what fd was, still open under another descriptor.
	saved   *os.File
	savedFD int
	// file is an unlinked temporary file: unlike a pipe, it never blocks a
	// writer, whether or not anything reads it.
	file *os.File
}

func captureFD(fd int) (*fdCapture, error) {
	file, err := os.CreateTemp("", "connectortest-stdio-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(file.Name()) // open, it lives on; closed, nothing is left
	// Close-on-exec, so that a child started meanwhile does not keep it open.
	syscall.ForkLock.RLock()
	savedFD, err := unix.Dup(fd)
	if err == nil {
		unix.CloseOnExec(savedFD)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		file.Close()
		return nil, err
	}
	if err := unix.Dup2(int(file.Fd()), fd); err != nil {
		unix.Close(savedFD)
		file.Close()
		return nil, err
	}
	return &fdCapture{fd: fd, saved: os.NewFile(uintptr(savedFD), "saved"), savedFD: savedFD, file: file}, nil
}

// restore gives the descriptor back what it was, passes on what was written
// to the file meanwhile, and returns at most maxPrinted bytes of it.
func (c *fdCapture) restore() (string, error) {
	defer c.file.Close()
	defer c.saved.Close()
	if err := unix.Dup2(c.savedFD, c.fd); err != nil {
		return "", err
	}
	info, err := c.file.Stat()
	if err != nil {
		return "", err
	}
	written := io.NewSectionReader(c.file, 0, info.Size())
	_, _ = io.Copy(c.saved, written)
	kept := make([]byte, min(info.Size(), maxPrinted))
	n, _ := c.file.ReadAt(kept, 0)
	return string(kept[:n]), nil
}
