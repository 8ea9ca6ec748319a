// Package handedfds lists the file descriptors a process was handed across its
// exec: the tests of the plugin sandbox run it inside a plugin, to see what
// reached it from the host.
package handedfds

import (
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// List returns the descriptors open without close-on-exec, in order. Go opens
// everything close-on-exec (the runtime's poller, its cgroup files, a program's
// own files), so those could not have come through an exec marked so: what is
// left was handed over.
func List() ([]int, error) {
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
