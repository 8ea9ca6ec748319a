package main

import "syscall"

// leaveChild forks a child that starts a session of its own (as a daemon
// would, to leave its parent's) and waits for a signal. It runs raw system
// calls only: after fork it has one thread of a Go process.
func leaveChild() error {
	syscall.ForkLock.Lock()
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if pid == 0 && errno == 0 {
		syscall.RawSyscall(syscall.SYS_SETSID, 0, 0, 0)
		for {
			syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
		}
	}
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return errno
	}
	return nil
}
