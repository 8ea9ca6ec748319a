package oauth2kit

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/idplug/idplug/sdk"
)

// maxIdleConnsPerHost is well above net/http's default of 2: a busy sign-in page
// talks to the same few provider hosts all the time, and keeping those connections
// open saves a TLS handshake per call.
const maxIdleConnsPerHost = 64

// maxHeaderBytes caps an answer's headers, far above what providers send (a few
// KiB) and under the body's cap: net/http's default is 10 MiB.
const maxHeaderBytes = 256 << 10

// transports holds one transport per distinct set of extra CA roots, so every
// instance with the same TLS settings shares a connection pool. The set of distinct
// CA bundles is small (one per operator-configured bundle), so entries are kept.
var transports = struct {
	sync.Mutex
	byRoots map[[sha256.Size]byte]*http.Transport
}{byRoots: map[[sha256.Size]byte]*http.Transport{}}

func sharedTransport(caPEM string) (*http.Transport, error) {
	key := sha256.Sum256([]byte(caPEM))
	transports.Lock()
	defer transports.Unlock()
	if t, ok := transports.byRoots[key]; ok {
		return t, nil
	}
	t, err := newTransport(caPEM)
	if err != nil {
		return nil, err
	}
	transports.byRoots[key] = t
	return t, nil
}

func newTransport(caPEM string) (*http.Transport, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if caPEM != "" {
		roots, err := systemPoolWith(caPEM)
		if err != nil {
			return nil, err
		}
		tlsConfig.RootCAs = roots
	}
	// Through the host's egress proxy when the sandbox gives the plugin no
	// network of its own.
	t := sdk.NewTransport()
	t.TLSClientConfig = tlsConfig
	t.MaxIdleConns = 4 * maxIdleConnsPerHost
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	t.MaxResponseHeaderBytes = maxHeaderBytes
	return t, nil
}

// systemPoolWith returns the system's roots plus every certificate of caPEM.
func systemPoolWith(caPEM string) (*x509.CertPool, error) {
	certs, err := ParseCertificates(caPEM)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ParseCertificates reads a PEM bundle of CERTIFICATE blocks. It refuses anything
// else in the bundle, so that a pasted private key is not silently ignored.
func ParseCertificates(bundle string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(bundle)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("found a %q PEM block; only CERTIFICATE blocks are allowed", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d cannot be parsed: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}
