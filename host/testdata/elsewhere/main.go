// Command elsewhere is a plugin that serves nothing itself: its handshake line
// names an address of its author's choosing (a Unix socket beside its own file,
// where the test listens; a TCP server would do as well), with the certificate
// of a server its author runs there. A host that dialed it would send that
// server every call, the operator's configuration with them, past the sandbox.
package main

import (
	_ "embed"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

//go:embed cert.pem
var certPEM []byte

func main() {
	block, _ := pem.Decode(certPEM)
	addr := filepath.Join(filepath.Dir(os.Args[0]), "elsewhere.sock")
	fmt.Fprintf(os.Stdout, "1|1|unix|%s|grpc|%s\n", addr, base64.RawStdEncoding.EncodeToString(block.Bytes))
	time.Sleep(time.Minute) // until the host gives up on it
}
