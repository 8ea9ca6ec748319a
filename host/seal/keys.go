package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
)

// HKDF labels. Changing any of them makes every existing token unreadable,
// so a change must come with a new token version.
const (
	hkdfSalt     = "idplug/seal"
	infoCipher   = "idplug/seal v1 aes-256-gcm key"
	infoKeyID    = "idplug/seal v1 key id"
	keyIDLen     = 4
	cipherKeyLen = 32
)

// key is a derived sealing key.
type key struct {
	// id is put in each token so that Open tries the matching key only. It
	// is derived separately from the cipher key, so it reveals nothing
	// about it.
	id   [keyIDLen]byte
	aead cipher.AEAD
}

func deriveKey(secret []byte) (key, error) {
	var k key
	cipherKey, err := hkdf.Key(sha256.New, secret, []byte(hkdfSalt), infoCipher, cipherKeyLen)
	if err != nil {
		return k, err
	}
	id, err := hkdf.Key(sha256.New, secret, []byte(hkdfSalt), infoKeyID, keyIDLen)
	if err != nil {
		return k, err
	}
	copy(k.id[:], id)
	block, err := aes.NewCipher(cipherKey)
	if err != nil {
		return k, err
	}
	// The AEAD draws a random nonce per token and puts it in front of the
	// ciphertext.
	k.aead, err = cipher.NewGCMWithRandomNonce(block)
	return k, err
}
