package oauth2kit

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func TestClientsWithTheSameRootsShareATransport(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	ca := certPEM(srv)

	a, b := newHTTPClient(t, HTTPOptions{}), newHTTPClient(t, HTTPOptions{UserAgent: "other", Timeout: 1})
	c, d := newHTTPClient(t, HTTPOptions{CACertificates: ca}), newHTTPClient(t, HTTPOptions{CACertificates: ca})
	if a.transport != b.transport {
		t.Error("two clients with system roots have separate transports")
	}
	if c.transport != d.transport {
		t.Error("two clients with the same CA bundle have separate transports")
	}
	if a.transport == c.transport {
		t.Error("clients with different roots share a transport")
	}
	tr := a.transport.(*http.Transport)
	if tr.MaxIdleConnsPerHost != maxIdleConnsPerHost || tr.TLSClientConfig.MinVersion == 0 {
		t.Errorf("transport: MaxIdleConnsPerHost=%d MinVersion=%x", tr.MaxIdleConnsPerHost, tr.TLSClientConfig.MinVersion)
	}
}

func TestExtraRootsAreTrusted(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", jsonType)
		io.WriteString(w, `{"sub":"tls"}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
	srv.StartTLS()
	defer srv.Close()

	trusting := &UserInfoEndpoint{URL: srv.URL, HTTP: newHTTPClient(t, HTTPOptions{CACertificates: certPEM(srv)})}
	if _, err := trusting.Fetch(context.Background(), "t"); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	plain := &UserInfoEndpoint{URL: srv.URL, HTTP: newHTTPClient(t, HTTPOptions{})}
	_, err := plain.Fetch(context.Background(), "t")
	e := wantCode(t, err, sdk.CodeProviderUnavailable)
	if !strings.Contains(e.Message, "certificate") {
		t.Errorf("message %q does not say the certificate is not trusted", e.Message)
	}
}

func TestConnectionsAreReused(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", jsonType)
		io.WriteString(w, `{"access_token":"at"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	e := newEndpoint(t, srv.URL, HTTPOptions{})
	for range 5 {
		if _, err := e.Exchange(context.Background(), "c", "https://app/cb", ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 sequential calls opened %d connections, want 1", n)
	}
}

func TestParseCertificatesRefusals(t *testing.T) {
	if _, err := ParseCertificates(""); err == nil {
		t.Error("an empty bundle parsed")
	}
	tests := map[string]string{
		"not PEM":     "hello",
		"private key": pemOf("PRIVATE KEY", []byte{1}),
		"broken cert": pemOf("CERTIFICATE", []byte{1, 2, 3}),
	}
	for name, bundle := range tests {
		if _, err := NewHTTPClient(HTTPOptions{CACertificates: bundle}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func certPEM(srv *httptest.Server) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}
