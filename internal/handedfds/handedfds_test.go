package handedfds

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestListSeesOnlyDescriptorsWithoutCloseOnExec(t *testing.T) {
	f, err := os.Open(os.Args[0]) // close-on-exec, as Go opens everything
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	handed, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD, 0) // without close-on-exec
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(handed)
	fds, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(fds, handed) || slices.Contains(fds, int(f.Fd())) {
		t.Errorf("List() = %v; want %d in it and %d not", fds, handed, f.Fd())
	}
}
