package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/idplug/idplug/internal/handedfds"
)

// handedFDs are the descriptors the plugin got across its exec, read before
// main: those open without close-on-exec. What it opens itself is
// close-on-exec (Go opens everything so), and could not have come through an
// exec marked so.
var handedFDs, handedFDsErr = handedfds.List()

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
