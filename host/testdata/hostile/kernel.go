package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelAttempts tries what capabilities, the host's IPC and UTS namespaces and
// the kernel's less common interfaces would give a plugin, each in a way that
// changes nothing when it works (the clock and the host name are set to what
// they are).
func kernelAttempts(r map[string]string, cfg config) {
	result := func(err error) string {
		if err != nil {
			return "denied: " + err.Error()
		}
		return "allowed"
	}
	r["deny:hold a capability"] = capabilities()
	r["deny:gain a capability by exec"] = result(execGains())
	// settimeofday with neither time nor zone checks CAP_SYS_TIME and sets nothing.
	_, _, e := unix.Syscall(unix.SYS_SETTIMEOFDAY, 0, 0, 0)
	r["deny:set the clock"] = result(errnoErr(e))
	name, err := os.Hostname()
	if err == nil {
		err = unix.Sethostname([]byte(name))
	} else {
		err = fmt.Errorf("not tried: %w", err)
	}
	r["deny:set the host name"] = result(err)
	_, err = unix.Klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nil)
	r["deny:read the kernel log"] = result(err)
	r["deny:open a vsock socket"] = result(closeFD(unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)))
	var params [120]byte // struct io_uring_params
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	r["deny:set up an io_uring"] = result(closeFD(int(fd), errnoErr(e)))
	if cfg.HostShmKey != 0 {
		r["deny:read the host's SysV shared memory"] = result(readShm(cfg.HostShmKey))
	}
	if cfg.HostQueue != "" {
		r["deny:open the host's POSIX message queue"] = result(openQueue(cfg.HostQueue))
	}
	for ns, link := range cfg.HostNamespaces {
		what := "deny:share the host's " + ns + " namespace"
		own, err := os.Readlink("/proc/self/ns/" + ns)
		switch {
		case err != nil:
			r[what] = "not tried: " + err.Error()
		case own == link:
			r[what] = "allowed"
		default:
			r[what] = "denied: its own, " + own
		}
	}
}

func errnoErr(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func closeFD(fd int, err error) error {
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// capabilities is "allowed" with the sets that hold any capability.
func capabilities() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "not tried: " + err.Error()
	}
	var held []string
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "Cap") && strings.Trim(f[1], "0") != "" {
			held = append(held, line)
		}
	}
	if len(held) > 0 {
		return "allowed: " + strings.Join(held, ", ")
	}
	return "denied: no capability in any set"
}

// execGains is nil when running a program could give capabilities back: a
// bounding set that is not empty, unless securebits keep uid 0 from gaining
// them ("noroot", locked).
func execGains() error {
	bits, err := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("not tried: %w", err)
	}
	const noroot = 1<<0 | 1<<1
	if bits&noroot != noroot {
		return nil
	}
	return fmt.Errorf("securebits %#x", bits)
}

// readShm attaches the host's segment and reads it.
func readShm(key int) error {
	id, err := unix.SysvShmGet(key, 0, 0)
	if err != nil {
		return err
	}
	b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	_ = b[0]
	return unix.SysvShmDetach(b)
}

// openQueue opens the host's queue and takes a message from it.
func openQueue(name string) error {
	p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/"))
	if err != nil {
		return err
	}
	fd, _, e := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), unix.O_RDONLY, 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	defer unix.Close(int(fd))
	buf := make([]byte, 8192)
	ts := unix.NsecToTimespec(time.Now().Add(time.Second).UnixNano())
	if _, _, e := unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return errors.New("opened, then " + e.Error())
	}
	return nil
}
