package sandbox

import "golang.org/x/sys/unix"

var archDeniedByName = map[string]uintptr{"iopl": unix.SYS_IOPL, "ioperm": unix.SYS_IOPERM}
