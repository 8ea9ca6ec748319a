package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/vault"
	"github.com/idplug/idplug/sdk"
)

// An earlier rotation dropped a key too soon: one record is still sealed
// under it. The operator rotates again (vault_keys [C, B]) and runs the
// rekey. It had stopped at that record, rolled its batch back and said "run
// it again", which stopped at the same record every time: the records under B
// never moved to C, and dropping B lost them. It now moves every record it can
// open, and names the one it cannot.
func TestRekeyMovesTheRecordsItCanOpen(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "state.db")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, "sqlite:"+dbPath, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	const keyGone, keyB, keyC = "vault-key-gone-0123456789abcdef012345", vaultKeyB, "vault-key-c-0123456789abcdef0123456789"
	tokens := &sdk.TokenSet{AccessToken: "at", RefreshToken: "rt", ExpiresAt: time.Now().Add(time.Hour)}
	seal := func(key, user string) {
		t.Helper()
		v, err := vault.New([][]byte{[]byte(key)})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := v.Seal("acme", user, tokens)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutTokens(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	seal(keyGone, "u0") // read first: the rekey had stopped here
	seal(keyB, "u1")
	seal(keyB, "u2")
	st.Close()

	cfgPath := filepath.Join(dir, "idplug.yaml")
	cfg := "plugin_dir: " + dir + "\nsession_keys: [\"${IDPLUG_SESSION_KEY}\"]\nstore: {url: \"sqlite:state.db\"}\n" +
		"vault_keys: [\"" + keyC + "\", \"" + keyB + "\"]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runIdplugCommand(t, 1, "vault", "rekey", "--config", cfgPath)
	if !strings.Contains(out, "re-encrypted 2 vault records") || !strings.Contains(out, "1 records do not open under vault_keys") ||
		!strings.Contains(out, "acme/u0 are sealed under key") {
		t.Fatalf("rekey said: %s", out)
	}
	if strings.Contains(out, "nothing sealed under an old key remains") || !strings.Contains(out, "only the 1 records named above remain") {
		t.Fatalf("with a record left under a dropped key, the rekey says none remains:\n%s", out)
	}
	st, err = store.Open(ctx, "sqlite:"+dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := vault.New([][]byte{[]byte(keyC)})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"u1", "u2"} {
		rec, err := st.Tokens(ctx, "acme", user)
		if err != nil || rec.KeyID != c.KeyIDs()[0] {
			t.Errorf("acme/%s after the rekey: under key %q, %v; want %s", user, rec.KeyID, err, c.KeyIDs()[0])
		}
	}
}
