package main

import (
	"fmt"
	"syscall"
)

// taskGoal is more tasks than the sandbox grants a plugin in its user
// namespace (sandbox.MaxTasks, 512).
const taskGoal = 1200

// startTasks forks paused children until it has taskGoal of them or the kernel
// refuses one, then kills and reaps every one (a child left behind would
// outlive the plugin). It reports an error when the kernel stopped it short.
func startTasks() error {
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
