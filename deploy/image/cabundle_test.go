package image_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The images trust the public roots of Debian's ca-certificates package and
// nothing else: scripts/build-image had copied this machine's bundle, and with
// it whatever the machine added (update-ca-certificates also takes
// /usr/local/share/ca-certificates: a company's root, a TLS-inspecting
// proxy's), which every deployment of the image would then trust for its token
// exchanges. The bundle scripts/ca-bundle writes holds only certificates of
// the Mozilla set, and most of them.
func TestCABundleHoldsOnlyThePublicRoots(t *testing.T) {
	mozilla, _ := filepath.Glob("/usr/share/ca-certificates/mozilla/*.crt")
	if len(mozilla) == 0 {
		t.Skip("no Mozilla set here (Debian package ca-certificates)")
	}
	public := map[[32]byte]bool{}
	for _, f := range mozilla {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range certificates(t, b) {
			public[sha256.Sum256(c.Raw)] = true
		}
	}
	out := filepath.Join(t.TempDir(), "ca-certificates.crt")
	if b, err := exec.Command(filepath.Join("..", "..", "scripts", "ca-bundle"), out).CombinedOutput(); err != nil {
		t.Fatalf("scripts/ca-bundle: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	certs := certificates(t, data)
	if len(certs) < len(public)/2 {
		t.Fatalf("the bundle holds %d roots of the %d public ones", len(certs), len(public))
	}
	for _, c := range certs {
		if !public[sha256.Sum256(c.Raw)] {
			t.Errorf("the bundle trusts %q, which is not in the public Mozilla set", c.Subject)
		}
	}
}

func certificates(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return certs
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("a certificate that does not parse: %v", err)
		}
		certs = append(certs, c)
	}
}
