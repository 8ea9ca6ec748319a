package oidcconnector

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"slices"
	"strings"

	josejson "github.com/go-jose/go-jose/v4/json"

	_ "crypto/sha256" // the hashes the algorithms name
	_ "crypto/sha512"
)

// compactJWS is an ID token split into its parts, decoded once. Parsing it here
// rather than through a general JOSE library keeps verification to one pass over
// the token: on a sign-in's path, it is most of what verification costs besides
// the signature itself.
type compactJWS struct {
	signingInput []byte // header.payload, as signed
	payload      []byte
	signature    []byte
}

func splitJWS(raw string) (*compactJWS, error) {
	h, rest, ok1 := strings.Cut(raw, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") || h == "" || p == "" {
		return nil, errors.New("not a compact JWS (three dot-separated parts)")
	}
	if _, err := decodeSegment(h); err != nil {
		return nil, errors.New("its header is not base64url")
	}
	payload, err := decodeSegment(p)
	if err != nil {
		return nil, errors.New("its payload is not base64url")
	}
	sig, err := decodeSegment(s)
	if err != nil {
		return nil, errors.New("its signature is not base64url")
	}
	return &compactJWS{signingInput: []byte(raw[:len(h)+1+len(p)]), payload: payload, signature: sig}, nil
}

// segmentEncoding is base64url without padding or stray bits in the last character.
var segmentEncoding = base64.RawURLEncoding.Strict()

// decodeSegment decodes one segment, written as RFC 7515 section 2 asks: no line
// breaks, no stray bits. The signature covers the text, and a library that verifies
// what it decoded, encoded again, would otherwise accept other texts than this one.
func decodeSegment(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("a line break in base64url")
	}
	return segmentEncoding.DecodeString(s)
}

// UnmarshalJSON reads the JOSE header as go-jose reads it: members by their exact
// names, and a name given twice refused (RFC 7515 section 4 allows that or keeping
// the last). encoding/json would take "ALG" for "alg" and keep the last of two, and a
// token would then be read one way here and another way by JOSE libraries.
func (h *header) UnmarshalJSON(b []byte) error {
	var members struct {
		Alg  string              `json:"alg"`
		Kid  string              `json:"kid"`
		Typ  string              `json:"typ"`
		Crit []string            `json:"crit"`
		B64  josejson.RawMessage `json:"b64"`
	}
	if err := josejson.Unmarshal(b, &members); err != nil {
		return err
	}
	*h = header{Alg: members.Alg, Kid: members.Kid, Typ: members.Typ, Crit: members.Crit}
	// "b64": false signs the payload unencoded, which a JWT never is (RFC 7797
	// section 7), and must be listed in crit (section 6): it is read as listed, so
	// that it is refused as the extension it is, whatever crit says.
	var b64 *bool
	if josejson.Unmarshal(members.B64, &b64) == nil && b64 != nil && !*b64 && !slices.Contains(h.Crit, "b64") {
		h.Crit = append(h.Crit, "b64")
	}
	return nil
}

// algorithmHashes are the hashes of the JWA signature algorithms (RFC 7518 section 3).
var algorithmHashes = map[string]crypto.Hash{
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
	"HS256": crypto.SHA256, "HS384": crypto.SHA384, "HS512": crypto.SHA512,
}

// ecCurves are the curves each ECDSA algorithm must use.
var ecCurves = map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

var errBadSignature = errors.New("the signature does not verify")

// verifyWithKey checks the signature with a public key of the type alg needs; a key
// of another type is refused, never tried.
func (j *compactJWS) verifyWithKey(alg string, key any) error {
	if alg == "EdDSA" {
		pub, ok := key.(ed25519.PublicKey)
		if !ok || !ed25519.Verify(pub, j.signingInput, j.signature) {
			return errBadSignature
		}
		return nil
	}
	h, ok := algorithmHashes[alg]
	if !ok {
		return errBadSignature
	}
	digest := h.New()
	digest.Write(j.signingInput)
	sum := digest.Sum(nil)
	switch alg[:2] {
	case "RS":
		pub, ok := key.(*rsa.PublicKey)
		if !ok || rsa.VerifyPKCS1v15(pub, h, sum, j.signature) != nil {
			return errBadSignature
		}
	case "PS":
		pub, ok := key.(*rsa.PublicKey)
		if !ok || rsa.VerifyPSS(pub, h, sum, j.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
			return errBadSignature
		}
	case "ES":
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || pub.Curve.Params().Name != ecCurves[alg] {
			return errBadSignature
		}
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(j.signature) != 2*size {
			return errBadSignature
		}
		r := new(big.Int).SetBytes(j.signature[:size])
		s := new(big.Int).SetBytes(j.signature[size:])
		if !ecdsa.Verify(pub, sum, r, s) {
			return errBadSignature
		}
	default:
		return errBadSignature
	}
	return nil
}

// verifyWithSecret checks an HMAC signature with the client secret, which must be
// at least as long as the hash (RFC 7518 section 3.2).
func (j *compactJWS) verifyWithSecret(alg string, secret []byte) error {
	h, ok := algorithmHashes[alg]
	if !ok || !strings.HasPrefix(alg, "HS") || len(secret) < h.Size() {
		return errBadSignature
	}
	mac := hmac.New(h.New, secret)
	mac.Write(j.signingInput)
	if !hmac.Equal(mac.Sum(nil), j.signature) {
		return errBadSignature
	}
	return nil
}
