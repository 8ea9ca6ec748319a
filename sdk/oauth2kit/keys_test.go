package oauth2kit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
)

// Keys are generated once per test binary: RSA generation is slow under -race.
var testKeys = sync.OnceValue(func() struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
} {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return struct {
		rsa *rsa.PrivateKey
		ec  *ecdsa.PrivateKey
	}{r, e}
})

func pemOf(blockType string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
}

func pkcs8(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func TestParsePrivateKeyFormats(t *testing.T) {
	k := testKeys()
	sec1, err := x509.MarshalECPrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pemOf("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	tests := []struct {
		name, pem, alg string
	}{
		{"PKCS#8 RSA", pkcs8(t, k.rsa), "RS256"},
		{"PKCS#1 RSA", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa)), "RS256"},
		{"PKCS#8 EC", pkcs8(t, k.ec), "ES256"},
		{"SEC 1 EC", pemOf("EC PRIVATE KEY", sec1), "ES256"},
		{"SEC 1 EC after EC PARAMETERS", ecParams + pemOf("EC PRIVATE KEY", sec1), "ES256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParsePrivateKey(tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			alg, err := KeySigningAlgorithm(key, "")
			if err != nil || alg != tt.alg {
				t.Errorf("KeySigningAlgorithm = %q, %v; want %s", alg, err, tt.alg)
			}
		})
	}
}

func TestParsePrivateKeyRefusals(t *testing.T) {
	k := testKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pkcs8(t, k.rsa)
	encrypted := strings.Replace(pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa)),
		"-----BEGIN RSA PRIVATE KEY-----\n", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n", 1)
	tests := []struct {
		name, pem, says string
	}{
		{"empty", "", "not a PEM private key"},
		{"garbage", "not a key", "not a PEM private key"},
		{"certificate", pemOf("CERTIFICATE", []byte{1, 2, 3}), `"CERTIFICATE" PEM block is not a private key`},
		{"PKCS#8 encrypted", pemOf("ENCRYPTED PRIVATE KEY", []byte{1}), "encrypted"},
		{"legacy encrypted", encrypted, "encrypted"},
		{"broken DER", pemOf("PRIVATE KEY", []byte{1, 2, 3}), "cannot be parsed"},
		{"two keys", rsaPEM + rsaPEM, "more than one"},
		{"RSA 1024", pkcs8(t, small), "1024 bits"},
		{"P-384", pkcs8(t, p384), "P-384"},
		{"Ed25519", pkcs8(t, ed), "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tt.pem)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error = %v, want one that says %q", err, tt.says)
			}
			if strings.Contains(err.Error(), "MII") {
				t.Errorf("error repeats key material: %v", err)
			}
		})
	}
}

func TestKeySigningAlgorithm(t *testing.T) {
	k := testKeys()
	tests := []struct {
		key       crypto.Signer
		alg, want string
		wantErr   string
	}{
		{k.rsa, "RS256", "RS256", ""},
		{k.ec, "ES256", "ES256", ""},
		{k.rsa, "ES256", "", "RSA key"},
		{k.ec, "RS256", "", "EC P-256 key"},
		{k.rsa, "PS256", "", "not supported"},
		{k.ec, "HS256", "", "not supported"},
	}
	for _, tt := range tests {
		got, err := KeySigningAlgorithm(tt.key, tt.alg)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("KeySigningAlgorithm(%T, %s) = %q, %v; want %s", tt.key, tt.alg, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("KeySigningAlgorithm(%T, %s) error = %v, want one saying %q", tt.key, tt.alg, err, tt.wantErr)
		}
	}
}
