package seal

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A token is base64url (no padding) of
//
//	version (1) | key id (4) | nonce (12) | AES-GCM(expiry (8) | payload) | tag (16)
//
// with the version, the key id and the purpose as additional authenticated
// data. The expiry is Unix milliseconds, big-endian.
const (
	version1  byte = 1
	headerLen      = 1 + keyIDLen
	expiryLen      = 8
	aeadLen        = 12 + 16 // nonce and tag added by the AEAD
	minRawLen      = headerLen + aeadLen + expiryLen

	// MaxTokenLen is the longest input Open accepts, in characters; longer
	// input is ErrMalformed without being decoded. It keeps a token within
	// what a cookie or a URL carries comfortably.
	MaxTokenLen = 8 << 10
	// MaxPayloadLen is the largest payload Seal accepts: its token is at most
	// MaxTokenLen characters.
	MaxPayloadLen = MaxTokenLen/4*3 - minRawLen
)

var encoding = base64.RawURLEncoding.Strict()

// Seal returns a token carrying payload for purpose, valid for ttl.
func (s *Sealer) Seal(purpose string, payload []byte, ttl time.Duration) (string, error) {
	if len(payload) > MaxPayloadLen {
		return "", fmt.Errorf("seal: payload is %d bytes; the limit is %d", len(payload), MaxPayloadLen)
	}
	raw, err := s.sealRaw(purpose, payload, ttl)
	if err != nil {
		return "", err
	}
	return encoding.EncodeToString(raw), nil
}

// sealRaw is Seal without the text encoding and its size limit.
func (s *Sealer) sealRaw(purpose string, payload []byte, ttl time.Duration) ([]byte, error) {
	switch {
	case purpose == "":
		return nil, errors.New("seal: purpose is empty")
	case ttl <= 0:
		return nil, fmt.Errorf("seal: ttl %s is not positive", ttl)
	}
	k := s.keys[0]
	raw := make([]byte, headerLen, minRawLen+len(payload))
	raw[0] = version1
	copy(raw[1:], k.id[:])

	plain := make([]byte, expiryLen+len(payload))
	binary.BigEndian.PutUint64(plain, uint64(s.now().Add(ttl).UnixMilli()))
	copy(plain[expiryLen:], payload)

	return k.aead.Seal(raw, nil, plain, additionalData(raw[:headerLen], purpose)), nil
}

// Open returns the payload of a token sealed for purpose. It fails with an
// error wrapping ErrMalformed, ErrInvalid or ErrExpired.
func (s *Sealer) Open(purpose string, token string) ([]byte, error) {
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrMalformed, MaxTokenLen)
	}
	// The decoder skips line breaks; refuse them, and anything else outside
	// the alphabet, so that exactly one spelling of a token opens.
	for i := 0; i < len(token); i++ {
		if !isBase64URL(token[i]) {
			return nil, fmt.Errorf("%w: not base64url", ErrMalformed)
		}
	}
	raw, err := encoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	return s.openRaw(purpose, raw)
}

// openRaw is Open after the text decoding.
func (s *Sealer) openRaw(purpose string, raw []byte) ([]byte, error) {
	switch {
	case len(raw) < minRawLen:
		return nil, fmt.Errorf("%w: too short", ErrMalformed)
	case raw[0] != version1:
		return nil, fmt.Errorf("%w: unknown version %d", ErrMalformed, raw[0])
	}

	header := raw[:headerLen]
	ad := additionalData(header, purpose)
	var plain []byte
	var err error
	opened := false
	for _, k := range s.keys {
		if string(k.id[:]) != string(header[1:]) {
			continue // a token names its key; others cannot open it
		}
		if plain, err = k.aead.Open(nil, nil, raw[headerLen:], ad); err == nil {
			opened = true
			break
		}
	}
	if !opened || len(plain) < expiryLen {
		return nil, ErrInvalid
	}

	expiry := time.UnixMilli(int64(binary.BigEndian.Uint64(plain)))
	if !s.now().Before(expiry) {
		return nil, fmt.Errorf("%w at %s", ErrExpired, expiry.UTC().Format(time.RFC3339))
	}
	return plain[expiryLen:], nil
}

// additionalData binds a token to its header and purpose. The header has a
// fixed length, so the purpose needs no delimiter.
func additionalData(header []byte, purpose string) []byte {
	ad := make([]byte, 0, len(header)+len(purpose))
	ad = append(ad, header...)
	return append(ad, purpose...)
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
