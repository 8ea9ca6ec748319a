package oauth2kit

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Go's HTTP/2 client sends a request again after a stream reset with
// PROTOCOL_ERROR (golang/go#47635), its body rebuilt with GetBody, even once
// the server read it: a provider, or a proxy in front of it, that reads a
// token request and resets the stream got the same code, refresh token or
// assertion a second time, and a provider that sees a code twice ends the
// grant. A token request is sent once over HTTP/2 too, and the reset is the
// provider's failure.
func TestTokenRequestsAreNeverSentAgainOverHTTP2(t *testing.T) {
	certSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	certSrv.StartTLS()
	cert := certSrv.TLS.Certificates[0]
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certSrv.Certificate().Raw}))
	certSrv.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	var received atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { resetFirstTokenRequest(c, &received) })
		}
	})
	for _, grant := range []string{"exchange", "refresh"} {
		received.Store(0)
		e := newEndpoint(t, "https://"+ln.Addr().String()+"/token", HTTPOptions{CACertificates: caPEM})
		if grant == "exchange" {
			_, err = e.Exchange(context.Background(), "the-code-123456", "https://app/cb", "")
		} else {
			_, err = e.Refresh(context.Background(), "the-code-123456")
		}
		if err == nil {
			t.Errorf("%s: the reset stream was taken for an answer", grant)
		}
		if n := received.Load(); n != 1 {
			t.Errorf("%s: the secret was sent %d times", grant, n)
		}
		(&http.Client{Transport: e.HTTP.transport}).CloseIdleConnections()
	}
}

// resetFirstTokenRequest serves HTTP/2 on c: it reads each request, resets
// the first that carries the secret with PROTOCOL_ERROR, and answers any
// other with invalid_grant.
func resetFirstTokenRequest(c net.Conn, received *atomic.Int32) {
	defer c.Close()
	if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	_ = fr.WriteSettings()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	bodies := map[uint32]*bytes.Buffer{}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			bodies[f.StreamID] = &bytes.Buffer{}
		case *http2.DataFrame:
			b := bodies[f.StreamID]
			if b == nil {
				b = &bytes.Buffer{}
				bodies[f.StreamID] = b
			}
			b.Write(f.Data())
			if !f.StreamEnded() {
				continue
			}
			if strings.Contains(b.String(), "the-code-123456") && received.Add(1) == 1 {
				_ = fr.WriteRSTStream(f.StreamID, http2.ErrCodeProtocol)
				continue
			}
			block.Reset()
			_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "400"})
			_ = enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/json"})
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: block.Bytes(), EndHeaders: true})
			_ = fr.WriteData(f.StreamID, true, []byte(`{"error":"invalid_grant"}`))
		}
	}
}

// A body can be made again while nothing of it was read (a request the
// transport retries before sending it: a stale keep-alive connection, a
// stream refused before it began), and never after.
func TestOnceBodyIsMadeAgainOnlyUnread(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "https://provider.example/token", strings.NewReader("code=the-code"))
	if err != nil {
		t.Fatal(err)
	}
	body, getBody := onceBody(req.Body, req.GetBody)
	again, err := getBody()
	if err != nil {
		t.Fatalf("a body nothing of which was read: %v", err)
	}
	if b, _ := io.ReadAll(again); string(b) != "code=the-code" {
		t.Fatalf("made again: %q", b)
	}
	// Reading the new body counts as the body sent, as reading the first does.
	if _, err := getBody(); err == nil {
		t.Fatal("a body read already was made again")
	}
	if _, err := io.ReadAll(body); err != nil {
		t.Fatal(err)
	}
	if _, err := getBody(); err != errBodySent {
		t.Fatalf("after the body was read: %v; want errBodySent", err)
	}
}
