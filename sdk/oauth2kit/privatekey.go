package oauth2kit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// minRSABits is the smallest RSA key accepted for RS256 (RFC 7518 section 3.3).
const minRSABits = 2048

// ParsePrivateKey reads one unencrypted private key from PEM: PKCS#8 ("PRIVATE
// KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). It accepts RSA keys
// of 2048 bits or more and EC keys on P-256. Errors describe the key, never its bytes.
func ParsePrivateKey(pemText string) (crypto.Signer, error) {
	var found *pem.Block
	rest := []byte(pemText)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "EC PARAMETERS" {
			continue // openssl ecparam -genkey writes it before the key
		}
		if found != nil {
			return nil, errors.New("the PEM text holds more than one block; give exactly one private key")
		}
		found = block
	}
	if found == nil {
		return nil, errors.New("not a PEM private key (expected a -----BEGIN PRIVATE KEY----- block)")
	}
	key, err := parseKeyBlock(found)
	if err != nil {
		return nil, err
	}
	return checkKey(key)
}

func parseKeyBlock(b *pem.Block) (any, error) {
	if _, encrypted := b.Headers["Proc-Type"]; encrypted {
		return nil, errors.New("the private key is encrypted; give it unencrypted")
	}
	var (
		key any
		err error
	)
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the private key is encrypted; give it unencrypted")
	default:
		return nil, fmt.Errorf("a %q PEM block is not a private key", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("the %s block cannot be parsed: %v", b.Type, err)
	}
	return key, nil
}

func checkKey(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits; RS256 needs at least %d", bits, minRSABits)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("the EC key is on %s; only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("a %T key is not supported; use an RSA or EC P-256 key", key)
	}
}

// KeySigningAlgorithm returns the algorithm to sign with key: alg when it fits the
// key, or the key's own (RS256 for RSA, ES256 for EC P-256) when alg is empty.
func KeySigningAlgorithm(key crypto.Signer, alg string) (string, error) {
	var want string
	switch key.(type) {
	case *rsa.PrivateKey:
		want = "RS256"
	case *ecdsa.PrivateKey:
		want = "ES256"
	default:
		return "", fmt.Errorf("a %T cannot sign client assertions", key)
	}
	switch {
	case alg == "" || alg == want:
		return want, nil
	case alg == "RS256" || alg == "ES256":
		return "", fmt.Errorf("%s does not fit the key: it is an %s key, which signs with %s", alg, keyKind(want), want)
	default:
		return "", fmt.Errorf("%q is not supported; use RS256 (RSA key) or ES256 (EC P-256 key)", alg)
	}
}

func keyKind(alg string) string {
	if alg == "RS256" {
		return "RSA"
	}
	return "EC P-256"
}
