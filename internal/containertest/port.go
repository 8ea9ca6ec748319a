package containertest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// FreePort is a free loopback port below the kernel's ephemeral range (32768
// and up), for a container on the host's network to bind. A port taken with :0
// and let go is ephemeral: another test's outgoing connection could take it as
// its source port before the container binds it ("address already in use").
func FreePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}
