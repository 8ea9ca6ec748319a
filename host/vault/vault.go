// Package vault seals token sets for the store with AES-256-GCM.
//
// Each configured key (vault_keys, 32 bytes or more) is stretched with HKDF-SHA256
// into an AES-256 key and a short public id. The first key seals; every key
// opens, found by the id written beside each record, so keys rotate without
// downtime: add a new key first, run idplug vault rekey, then drop the old one.
// A record is bound to its connector instance and user id (GCM's additional
// data), so a sealed token set moved to another row does not open.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// MinKeyLen is the shortest key accepted, in bytes.
const MinKeyLen = 32

// ErrKeyMissing is returned for a record sealed under a key that is not configured.
var ErrKeyMissing = errors.New("vault: the record's key is not in vault_keys")

type key struct {
	id   string
	aead cipher.AEAD
}

// Vault seals and opens token sets.
type Vault struct {
	keys []key
}

// New builds a vault from the configured keys, the first one sealing.
func New(keys [][]byte) (*Vault, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: no vault_keys configured")
	}
	v := &Vault{}
	seen := map[string]int{}
	for i, k := range keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("vault: vault_keys[%d] is %d bytes, needs at least %d", i, len(k), MinKeyLen)
		}
		aesKey, err := hkdf.Key(sha256.New, k, nil, "idplug vault aes-256-gcm", 32)
		if err != nil {
			return nil, err
		}
		idBytes, err := hkdf.Key(sha256.New, k, nil, "idplug vault key id", 6)
		if err != nil {
			return nil, err
		}
		id := "k" + hex.EncodeToString(idBytes)
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("vault: vault_keys[%d] is the same key as vault_keys[%d]", i, j)
		}
		seen[id] = i
		block, err := aes.NewCipher(aesKey)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, key{id: id, aead: aead})
	}
	return v, nil
}

// KeyIDs lists the ids of the configured keys, the sealing one first.
func (v *Vault) KeyIDs() []string {
	ids := make([]string, len(v.keys))
	for i, k := range v.keys {
		ids[i] = k.id
	}
	return ids
}

func additionalData(connector, userID, keyID string) []byte {
	return []byte("idplug-vault-v1\x00" + connector + "\x00" + userID + "\x00" + keyID)
}

// sealedSet is what a record holds: the token set, and who honours it (the
// binding of Keeper.Provider; empty in records kept before bindings existed).
// The binding is a field of the same JSON object, which older code ignores.
type sealedSet struct {
	*sdk.TokenSet
	Provider string `json:"idplugProvider,omitempty"`
	Kept     int64  `json:"idplugKept,omitempty"`
}

// Binding is what a record holds of where its tokens come from, beside them.
type Binding struct {
	// Provider is Keeper.Provider's binding: "" in records kept before
	// bindings existed.
	Provider string
	// Kept is when the sign-in that kept the tokens finished (Unix ms), which
	// their refreshes keep: a record kept before its instance was removed
	// serves no more once the instance is back (Keeper.RemovedAt). 0 in
	// records kept before it was sealed (the store's UpdatedAt stands in).
	Kept int64
}

// Seal makes a store record of a token set, sealed under the first key.
func (v *Vault) Seal(connector, userID string, t *sdk.TokenSet) (store.TokenRecord, error) {
	return v.SealFor(connector, userID, Binding{}, t)
}

// SealFor is Seal for tokens bound as b says: OpenFor gives it back.
func (v *Vault) SealFor(connector, userID string, b Binding, t *sdk.TokenSet) (store.TokenRecord, error) {
	plain, err := json.Marshal(sealedSet{t, b.Provider, b.Kept})
	if err != nil {
		return store.TokenRecord{}, err
	}
	k := v.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return store.TokenRecord{}, err
	}
	sealed := k.aead.Seal(nonce, nonce, plain, additionalData(connector, userID, k.id))
	return store.TokenRecord{Connector: connector, UserID: userID, KeyID: k.id, Sealed: sealed, ExpiresAt: t.ExpiresAt}, nil
}

// Open returns the token set of a record. A record under a key that is not
// configured, or that does not open, is an error that names the record and key.
func (v *Vault) Open(rec store.TokenRecord) (*sdk.TokenSet, error) {
	t, _, err := v.OpenFor(rec)
	return t, err
}

// OpenFor is Open, and the binding the tokens were sealed with.
func (v *Vault) OpenFor(rec store.TokenRecord) (*sdk.TokenSet, Binding, error) {
	for _, k := range v.keys {
		if k.id != rec.KeyID {
			continue
		}
		ns := k.aead.NonceSize()
		if len(rec.Sealed) < ns+k.aead.Overhead() {
			return nil, Binding{}, fmt.Errorf("vault: the tokens of %s/%s are truncated", rec.Connector, rec.UserID)
		}
		plain, err := k.aead.Open(nil, rec.Sealed[:ns], rec.Sealed[ns:], additionalData(rec.Connector, rec.UserID, k.id))
		if err != nil {
			return nil, Binding{}, fmt.Errorf("vault: the tokens of %s/%s do not open under key %s: the record was altered or moved", rec.Connector, rec.UserID, k.id)
		}
		set := sealedSet{TokenSet: &sdk.TokenSet{}}
		if err := json.Unmarshal(plain, &set); err != nil {
			return nil, Binding{}, fmt.Errorf("vault: the tokens of %s/%s are not a token set", rec.Connector, rec.UserID)
		}
		return set.TokenSet, Binding{Provider: set.Provider, Kept: set.Kept}, nil
	}
	return nil, Binding{}, fmt.Errorf("%w: the tokens of %s/%s are sealed under key %s, and vault_keys holds %s; add that key back to vault_keys",
		ErrKeyMissing, rec.Connector, rec.UserID, rec.KeyID, strings.Join(v.KeyIDs(), ", "))
}

// keptBy is b with its Kept time, the store's time of rec where a record
// kept before that was sealed has none: rewritten (rekeyed, refreshed), it
// keeps when its sign-in was, not when it was rewritten.
func (b Binding) keptBy(rec store.TokenRecord) Binding {
	if b.Kept == 0 && !rec.UpdatedAt.IsZero() {
		b.Kept = rec.UpdatedAt.UnixMilli()
	}
	return b
}

// Rekey re-seals a record under the first key; nil when it is already.
func (v *Vault) Rekey(rec store.TokenRecord) (*store.TokenRecord, error) {
	if rec.KeyID == v.keys[0].id {
		return nil, nil
	}
	t, b, err := v.OpenFor(rec)
	if err != nil {
		return nil, err
	}
	next, err := v.SealFor(rec.Connector, rec.UserID, b.keptBy(rec), t)
	if err != nil {
		return nil, err
	}
	next.ExpiresAt, next.RefreshFailed = rec.ExpiresAt, rec.RefreshFailed
	return &next, nil
}
