package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// handedFDs are the descriptors the plugin got across its exec, read before
// main: those open without close-on-exec. What it opens itself is
// close-on-exec (Go opens everything so), and could not have come through an
// exec marked so.
var handedFDs, handedFDsErr = withoutCloseOnExec()

func withoutCloseOnExec() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	slices.Sort(fds)
	return fds, nil
}

// inheritedDescriptors records what the plugin was handed beyond stdin, stdout
// and stderr: every such descriptor is a way around its sandbox, since
// Landlock checks paths when they are opened, not what is already open. It
// reads any regular file among them, as a plugin after its host's secrets
// would.
func inheritedDescriptors(r map[string]string) {
	const (
		hold = "deny:hold a descriptor its host inherited"
		read = "deny:read a file through a descriptor its host inherited"
	)
	if handedFDsErr != nil {
		r[hold] = "not tried: " + handedFDsErr.Error()
		r[read] = r[hold]
		return
	}
	var held, files []string
	for _, fd := range handedFDs {
		if fd <= 2 {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		held = append(held, fmt.Sprintf("%d (%s)", fd, target))
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		buf := make([]byte, 64)
		if n, err := unix.Pread(fd, buf, 0); err == nil && n > 0 {
			files = append(files, fmt.Sprintf("%d (%s): %q", fd, target, buf[:n]))
		}
	}
	if len(held) > 0 {
		r[hold] = "allowed: it was handed " + strings.Join(held, ", ")
	} else {
		r[hold] = "denied: it was handed stdin, stdout and stderr only"
	}
	if len(files) > 0 {
		r[read] = "allowed: it read " + strings.Join(files, ", ")
	} else {
		r[read] = "denied: it was handed no file"
	}
}
