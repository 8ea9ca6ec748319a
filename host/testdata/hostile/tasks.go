package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// taskGoal is more tasks than the sandbox grants a plugin in its user
// namespace (sandbox.MaxTasks, 512).
const taskGoal = 600

// startTasks forks paused children until it has taskGoal of them or the kernel
// refuses one, then kills and reaps every one (a child left behind would
// outlive the plugin). It reports an error when the kernel stopped it short.
func startTasks() error {
	if !inUserNamespace() {
		// No limit applies (a plugin of a root host runs as root or
		// plugin_user): forking hundreds of processes would only slow the run.
		return errNotTried
	}
	var pids []int
	defer func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil)
		}
	}()
	for len(pids) < taskGoal {
		pid, err := forkPaused()
		if err != nil {
			return fmt.Errorf("stopped after %d tasks: %w", len(pids), err)
		}
		pids = append(pids, pid)
	}
	return nil
}

// forkPaused forks a child that does nothing but wait for a signal. The child
// runs raw system calls only: after fork it has one thread of a Go process.
func forkPaused() (int, error) {
	syscall.ForkLock.Lock()
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if pid == 0 && errno == 0 {
		for {
			syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
		}
	}
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return 0, errno
	}
	return int(pid), nil
}

// errNotTried reports an attempt that does not apply here.
var errNotTried = errors.New("not tried: no user namespace")

// inUserNamespace says whether the plugin runs in a user namespace of its own:
// its uid map is not the whole range mapped to itself.
func inUserNamespace() bool {
	raw, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return strings.Join(strings.Fields(string(raw)), " ") != "0 0 4294967295"
}
