// Package testport picks loopback ports for tests that hand a port to another
// process (a database, idplug, a Node.js app, a container) to bind later.
//
// A port taken by listening on 127.0.0.1:0 and letting go is in the kernel's
// ephemeral range, where outgoing connections take their source ports: another
// test's connection can take it before the other process binds it, which then
// fails with "address already in use". The ports here are below that range.
// A listener the test keeps and serves itself needs none of this: it listens
// on 127.0.0.1:0 and keeps the port.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// Free is a free loopback port below the kernel's ephemeral range (32768 and
// up), for another process to bind. A port taken with :0 and let go is
// ephemeral: another test's outgoing connection could take it as its source
// port before that process binds it ("address already in use").
func Free(t testing.TB) int {
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
