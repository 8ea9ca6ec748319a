package vault_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/vault"
	"github.com/idplug/idplug/sdk"
)

var (
	keyA = []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	keyB = []byte("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
)

func TestSealOpenRotate(t *testing.T) {
	va, err := vault.New([][]byte{keyA})
	if err != nil {
		t.Fatal(err)
	}
	tokens := &sdk.TokenSet{AccessToken: "at-secret-123", RefreshToken: "rt-secret-456", ExpiresAt: time.Unix(1900000000, 0)}
	rec, err := va.Seal("acme", "u1", tokens)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec.Sealed, []byte("secret")) {
		t.Fatal("the sealed record holds a token in the clear")
	}
	got, err := va.Open(rec)
	if err != nil || got.AccessToken != tokens.AccessToken || got.RefreshToken != tokens.RefreshToken || !got.ExpiresAt.Equal(tokens.ExpiresAt) {
		t.Fatalf("Open = %+v, %v", got, err)
	}
	// Moved to another user: refused.
	moved := rec
	moved.UserID = "u2"
	if _, err := va.Open(moved); err == nil || !strings.Contains(err.Error(), "altered or moved") {
		t.Fatalf("Open of a moved record: %v", err)
	}
	flipped := rec
	flipped.Sealed = bytes.Clone(rec.Sealed)
	flipped.Sealed[len(flipped.Sealed)-1] ^= 1
	if _, err := va.Open(flipped); err == nil {
		t.Fatal("Open of an altered record succeeded")
	}

	// Rotation: B seals, A still opens; Rekey moves the record to B.
	vb, err := vault.New([][]byte{keyB, keyA})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vb.Open(rec); err != nil {
		t.Fatalf("the old key no longer opens: %v", err)
	}
	next, err := vb.Rekey(rec)
	if err != nil || next == nil || next.KeyID != vb.KeyIDs()[0] {
		t.Fatalf("Rekey = %+v, %v", next, err)
	}
	if again, err := vb.Rekey(*next); err != nil || again != nil {
		t.Fatalf("Rekey of a record under the first key = %+v, %v; want nil, nil", again, err)
	}
	// Only B now: the old record is refused, naming the missing key.
	onlyB, _ := vault.New([][]byte{keyB})
	_, err = onlyB.Open(rec)
	if !errors.Is(err, vault.ErrKeyMissing) || !strings.Contains(err.Error(), rec.KeyID) || !strings.Contains(err.Error(), "acme/u1") {
		t.Fatalf("Open with the key missing: %v", err)
	}
	if got, err := onlyB.Open(*next); err != nil || got.AccessToken != tokens.AccessToken {
		t.Fatalf("Open of the rekeyed record: %+v, %v", got, err)
	}

	// A record sealed for a provider gives it back, and keeps it through a
	// rekey; one sealed without (before bindings) gives none.
	bound, err := va.SealFor("acme", "u1", vault.Binding{Provider: "oauth2\nclient_id=x", Kept: 1234}, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if _, b, err := va.OpenFor(rec); err != nil || b != (vault.Binding{}) {
		t.Fatalf("OpenFor of a record sealed without a provider: %+v, %v", b, err)
	}
	rekeyed, err := vb.Rekey(bound)
	if err != nil {
		t.Fatal(err)
	}
	if got, b, err := vb.OpenFor(*rekeyed); err != nil || b.Provider != "oauth2\nclient_id=x" || b.Kept != 1234 || got.RefreshToken != tokens.RefreshToken {
		t.Fatalf("OpenFor of a rekeyed bound record: %+v, %+v, %v", got, b, err)
	}
	// A record sealed before its sign-in's time was keeps the store's time
	// of it through a rekey, not the rekey's.
	rec.UpdatedAt = time.UnixMilli(5678)
	rekeyed, err = vb.Rekey(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, b, err := vb.OpenFor(*rekeyed); err != nil || b.Kept != 5678 {
		t.Fatalf("a rekeyed record without a sealed time: %+v, %v", b, err)
	}
}

func TestBadKeys(t *testing.T) {
	if _, err := vault.New(nil); err == nil {
		t.Fatal("no keys accepted")
	}
	if _, err := vault.New([][]byte{[]byte("short")}); err == nil || !strings.Contains(err.Error(), "vault_keys[0] is 5 bytes") {
		t.Fatalf("short key: %v", err)
	}
	if _, err := vault.New([][]byte{keyA, keyA}); err == nil || !strings.Contains(err.Error(), "same key") {
		t.Fatalf("duplicate key: %v", err)
	}
}
