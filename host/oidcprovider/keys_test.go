package oidcprovider

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
)

// The signing keys against whoever can write the database (docs/security.md):
// a restored backup, a shared database account. Each test writes the rows with
// plain SQL behind the provider's back, as that writer would.

// logBuffer collects a logger's lines; the provider may log from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: b, Level: hclog.Info})
}

// sqliteStore is a SQLite store and a second connection to its file, the
// database writer's.
func sqliteStore(t *testing.T) (store.Store, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "idplug.db")
	st, err := store.Open(t.Context(), "sqlite:"+path, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return st, db
}

// keysAt reads the provider's /keys as a relying party does.
func keysAt(t *testing.T, p *Provider) jose.JSONWebKeySet {
	t.Helper()
	rec := (&hostileSetup{p: p}).do(httptest.NewRequest(http.MethodGet, "/keys", nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatalf("/keys: %d %s", rec.Code, rec.Body)
	}
	return set
}

// ids are the key ids of set, sorted.
func ids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

// The attack: the signing keys' rows were trusted as written. A database
// writer added one "retired" row with a public key of its own (its sealed
// private half any bytes, never opened), /keys published it, and every
// relying party accepted ID tokens the writer signed, for any user, without
// any session key. Each row is now sealed whole and the published key derived
// from its sealed private half: the row does not open, is not published, and
// is dropped, logged at WARN by its id.
func TestDatabaseWriterCannotPublishASigningKey(t *testing.T) {
	ctx := context.Background()
	st, db := sqliteStore(t)
	sealer := testSealer(t)
	var logs logBuffer
	const issuer = "http://127.0.0.1:9/oidc"
	newProvider := func() *Provider {
		cfg := &config.Provider{Issuer: issuer, IssuerPath: "/oidc",
			AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: time.Hour, SSOTTL: 8 * time.Hour,
			Clients: []config.Client{{ID: "web", Secret: webSecret, AuthMethod: "client_secret_basic",
				RedirectURIs: []string{"https://app.test/cb"}}}}
		p, err := New(Options{Config: cfg, Store: st, Sealer: func() *seal.Sealer { return sealer },
			Targets:      func(id string) (string, bool) { return "acme-target", id == "acme" },
			AllInstances: func() []string { return []string{"acme"} },
			Browser:      &testBrowser{}, Now: time.Now, Logger: logs.logger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	genuine := ids(keysAt(t, newProvider()))

	// The database writer: its own key, one row, plain SQL; as retired (never
	// opened by the release before) and as active.
	evil, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jose.JSONWebKey{Key: &evil.PublicKey, KeyID: "evil", Algorithm: "ES256", Use: "sig"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{stateRetired, stateActive} {
		retire := int64(0)
		if state == stateRetired {
			retire = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO op_signing_keys (id, algorithm, state, sealed, public_jwk, created_at, retire_at)
			VALUES ('evil', 'ES256', ?, x'00', ?, ?, ?)`, state, pub, time.Now().UnixMilli(), retire); err != nil {
			t.Fatal(err)
		}

		// The provider as it starts next (or another replica, or this one
		// within 30 seconds).
		p := newProvider()
		set := keysAt(t, p)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: evil}, (&jose.SignerOptions{}).WithHeader("kid", "evil"))
		if err != nil {
			t.Fatal(err)
		}
		claims, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "victim", "aud": "web", "exp": time.Now().Add(time.Hour).Unix()})
		jws, err := signer.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range set.Keys {
			if _, err := jws.Verify(k.Public()); err == nil {
				t.Fatalf("%s: an ID token for sub=victim signed with a key a database writer inserted verifies against /keys (%v)", state, ids(set))
			}
		}
		if got := ids(set); strings.Join(got, " ") != strings.Join(genuine, " ") {
			t.Errorf("%s: /keys has %v, want the provider's own %v", state, got, genuine)
		}
		if k, err := p.keys.signing(ctx, jose.ES256); err != nil || k.ID() == "evil" {
			t.Errorf("%s: ES256 signs with %v (%v)", state, k, err)
		}
		var left int
		_ = db.QueryRowContext(ctx, `SELECT count(*) FROM op_signing_keys WHERE id = 'evil'`).Scan(&left)
		if left != 0 {
			t.Errorf("%s: the row that does not open is still in the store", state)
		}
	}
	if got := strings.Count(logs.String(), `[WARN]  a signing key's row does not open under the session keys`); got != 2 {
		t.Errorf("%d WARN lines for the two rows, want 2:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), `key=evil`) {
		t.Errorf("the WARN does not name the row:\n%s", logs.String())
	}
}

// Rows of the provider's own keys, edited or copied by a database writer: a
// state and window changed (to keep a key published, or make one sign), or a
// row copied under another id. Neither opens; the set is made whole again.
func TestDatabaseWriterCannotEditOrCopyAKeyRow(t *testing.T) {
	ctx := t.Context()
	st, db := sqliteStore(t)
	sealer := testSealer(t)
	now := time.Unix(1_800_000_000, 0)
	var logs logBuffer
	ring := newKeyRing(st, func() *seal.Sealer { return sealer }, 10*time.Minute, func() time.Time { return now }, logs.logger())
	first, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var next string
	recs, _ := st.SigningKeys(ctx)
	for _, k := range recs {
		if k.Algorithm == "ES256" && k.State == stateNext {
			next = k.ID
		}
	}
	active := first.signers[jose.ES256].id

	// The next key, made retired until the year 3000; the active one, copied
	// under another id.
	if _, err := db.ExecContext(ctx, `UPDATE op_signing_keys SET state = 'retired', retire_at = ? WHERE id = ?`,
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), next); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO op_signing_keys (id, algorithm, state, sealed, public_jwk, created_at, retire_at)
		SELECT 'copy', algorithm, 'retired', sealed, public_jwk, created_at, ? FROM op_signing_keys WHERE id = ?`,
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), active); err != nil {
		t.Fatal(err)
	}
	ring.cached = nil
	set, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if published(set, next) || published(set, "copy") {
		t.Fatalf("an edited or copied row is published: %v", set.published)
	}
	if !published(set, active) || set.signers[jose.ES256].id != active {
		t.Fatal("the untouched active key is no longer the one that signs")
	}
	if len(set.published) != 4 {
		t.Fatalf("%d keys published, want an active and a next key per algorithm (a new ES256 next key)", len(set.published))
	}
	for _, id := range []string{next, "copy"} {
		if !strings.Contains(logs.String(), id) {
			t.Errorf("no WARN names %s:\n%s", id, logs.String())
		}
	}
}

// legacyRecord is a key row as the release before sealed rows wrote it: the
// private key sealed alone, everything else as it is.
func legacyRecord(t *testing.T, sealer *seal.Sealer, id string, alg jose.SignatureAlgorithm, state string, created time.Time) (store.SigningKeyRecord, crypto.PublicKey) {
	t.Helper()
	var priv crypto.Signer
	var err error
	if alg == jose.RS256 {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.Seal(keyPurpose, der, sealedKeyTTL)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jose.JSONWebKey{Key: priv.Public(), KeyID: id, Algorithm: string(alg), Use: "sig"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return store.SigningKeyRecord{ID: id, Algorithm: string(alg), State: state, Sealed: []byte(sealed), Public: pub, CreatedAt: created}, priv.Public()
}

// The upgrade: a key set the release before sealed rows wrote is kept (same
// ids, same keys: relying parties see no change) and written back as sealed
// rows at once, each publishing the public half of its own private key, not
// the public_jwk column a writer could have changed before the upgrade. From
// then on a row in the earlier format (a copy from a backup) is refused.
func TestKeysOfAnEarlierReleaseAreSealedOnUpgrade(t *testing.T) {
	ctx := t.Context()
	st, db := sqliteStore(t)
	sealer := testSealer(t)
	now := time.Unix(1_800_000_000, 0)
	var old []store.SigningKeyRecord
	want := map[string]crypto.PublicKey{}
	for i, k := range []struct {
		alg   jose.SignatureAlgorithm
		state string
	}{{jose.RS256, stateActive}, {jose.RS256, stateNext}, {jose.ES256, stateActive}, {jose.ES256, stateNext}} {
		id := "old-" + string(k.alg) + "-" + k.state
		rec, pub := legacyRecord(t, sealer, id, k.alg, k.state, now.Add(time.Duration(i)*time.Millisecond))
		old = append(old, rec)
		want[id] = pub
	}
	// Before the upgrade, a writer swapped the active ES256 key's public_jwk
	// for a key of its own.
	evil, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	old[2].Public, _ = jose.JSONWebKey{Key: &evil.PublicKey, KeyID: old[2].ID, Algorithm: "ES256", Use: "sig"}.MarshalJSON()
	if err := st.ReplaceSigningKeys(ctx, nil, old); err != nil {
		t.Fatal(err)
	}

	var logs logBuffer
	ring := newKeyRing(st, func() *seal.Sealer { return sealer }, 10*time.Minute, func() time.Time { return now }, logs.logger())
	set, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.published) != 4 {
		t.Fatalf("%d keys published after the upgrade, want the 4 kept", len(set.published))
	}
	for _, k := range set.published {
		pub, ok := want[k.ID()]
		if !ok {
			t.Fatalf("the upgrade published a new key %s", k.ID())
		}
		if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Key()) {
			t.Fatalf("key %s is published with another public key than its private key's", k.ID())
		}
	}
	if set.signers[jose.RS256].id != old[0].ID || set.signers[jose.ES256].id != old[2].ID {
		t.Fatal("the upgrade changed the keys that sign")
	}
	recs, _ := st.SigningKeys(ctx)
	for _, rec := range recs {
		if _, err := openRow(sealer, rec); err != nil {
			t.Fatalf("key %s was not written back as a sealed row: %v", rec.ID, err)
		}
	}
	if strings.Contains(logs.String(), "[WARN]") {
		t.Errorf("the upgrade warned:\n%s", logs.String())
	}

	// A row in the earlier format, written after the upgrade: refused.
	replay := old[1]
	replay.ID, replay.State = "replayed", stateRetired
	if _, err := db.ExecContext(ctx, `INSERT INTO op_signing_keys (id, algorithm, state, sealed, public_jwk, created_at, retire_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, replay.ID, replay.Algorithm, replay.State, replay.Sealed, replay.Public,
		now.UnixMilli(), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	ring.cached = nil
	set, err = ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if published(set, "replayed") || len(set.published) != 4 {
		t.Fatalf("a row in the earlier format was taken after the upgrade: %d published", len(set.published))
	}
	if !strings.Contains(logs.String(), "replayed") {
		t.Errorf("no WARN names the refused row:\n%s", logs.String())
	}
}

// failingWrites is a store whose key set cannot be written (a database that
// refuses writes, a full disk) but still reads.
type failingWrites struct {
	st     store.SigningKeys
	writes *atomic.Int32
}

func (f failingWrites) SigningKeys(ctx context.Context) ([]store.SigningKeyRecord, error) {
	return f.st.SigningKeys(ctx)
}

func (f failingWrites) ReplaceSigningKeys(context.Context, []store.SigningKeyRecord, []store.SigningKeyRecord) error {
	if f.writes != nil {
		f.writes.Add(1)
	}
	return store.ErrUnavailable
}

// A row that does not open is dropped by writing the set again. When that
// write fails, the stored keys that opened still sign and are published (the
// write is tried again at the next read); a set that lacks an active key has
// no such fallback, since a key made but not stored would be published by no
// other replica.
func TestStoredKeysSignWhenTheCleanupCannotBeWritten(t *testing.T) {
	ctx := context.Background()
	st, db := sqliteStore(t)
	sealer := testSealer(t)
	ring := newKeyRing(st, func() *seal.Sealer { return sealer }, time.Hour, time.Now, hclog.NewNullLogger())
	if _, err := ring.current(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO op_signing_keys (id, algorithm, state, sealed, public_jwk, created_at, retire_at)
		VALUES ('junk', 'ES256', 'retired', x'00', x'00', ?, ?)`, time.Now().UnixMilli(), time.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	var writes atomic.Int32
	stuck := newKeyRing(failingWrites{st, &writes}, func() *seal.Sealer { return sealer }, time.Hour, time.Now, logs.logger())
	for _, alg := range algorithms {
		if k, err := stuck.signing(ctx, alg); err != nil || k.ID() == "junk" {
			t.Fatalf("%s: %v, %v", alg, k, err)
		}
	}
	published, err := stuck.published(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range published {
		if k.ID() == "junk" {
			t.Fatal("the row that does not open is published")
		}
	}
	if !strings.Contains(logs.String(), "the signing keys could not be written; signing with the stored ones") {
		t.Errorf("no warning:\n%s", logs.String())
	}
	// The stored keys serve until the next read: each request had read and
	// written again, in turn, under the ring's lock.
	if n := writes.Load(); n != 1 {
		t.Errorf("three uses of the keys wrote the set %d times; want once until the next read", n)
	}
	// Nothing stored: no key to fall back on.
	empty, _ := sqliteStore(t)
	if _, err := newKeyRing(failingWrites{st: empty}, func() *seal.Sealer { return sealer }, time.Hour, time.Now, hclog.NewNullLogger()).current(ctx); err == nil {
		t.Fatal("a key set that could not be written was used")
	}
}

// unreadable is a store whose key set cannot be read while down is set (as
// store.Timed answers for a database that is slow or away); reads, when set,
// counts the reads that failed.
type unreadable struct {
	keys  store.SigningKeys
	down  *atomic.Bool
	reads *atomic.Int32
}

func (u unreadable) SigningKeys(ctx context.Context) ([]store.SigningKeyRecord, error) {
	if u.down.Load() {
		if u.reads != nil {
			u.reads.Add(1)
		}
		return nil, store.ErrUnavailable
	}
	return u.keys.SigningKeys(ctx)
}

func (u unreadable) ReplaceSigningKeys(ctx context.Context, expect, next []store.SigningKeyRecord) error {
	return u.keys.ReplaceSigningKeys(ctx, expect, next)
}

// A replica that cannot read the store signs with the keys it read last, for
// keyStaleMax and no longer: a key withdrawn meanwhile had signed on for as
// long as the store stayed out of its reach.
func TestKeysReadLastSignForABoundedTime(t *testing.T) {
	st := testStore(t)
	sealer := testSealer(t)
	now := time.Unix(1_800_000_000, 0)
	var down atomic.Bool
	ring := newKeyRing(unreadable{keys: st, down: &down}, func() *seal.Sealer { return sealer }, time.Hour, func() time.Time { return now }, hclog.NewNullLogger())
	ctx := t.Context()
	if _, err := ring.signing(ctx, jose.RS256); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	now = now.Add(keyStaleMax - time.Second)
	if _, err := ring.signing(ctx, jose.RS256); err != nil {
		t.Fatalf("within keyStaleMax of the last read, with the store down: %v", err)
	}
	now = now.Add(time.Second)
	if k, err := ring.signing(ctx, jose.RS256); err == nil {
		t.Fatalf("signing with %s, read %s ago from a store that has not answered since", k.ID(), keyStaleMax)
	}
	down.Store(false)
	if _, err := ring.signing(ctx, jose.RS256); err != nil {
		t.Fatalf("the store back: %v", err)
	}
}

// idplug keys list shows the keys as the provider reads them: a row in an
// earlier release's form put beside sealed rows (a backup's blob under a
// made-up id and state) is one the provider ignores, and is listed as
// unreadable, not as the active key its row claims to be.
func TestKeyListShowsWhatTheProviderUses(t *testing.T) {
	ctx := t.Context()
	st, _ := sqliteStore(t)
	sealer := testSealer(t)
	ring := newKeyRing(st, func() *seal.Sealer { return sealer }, time.Hour, time.Now, hclog.NewNullLogger())
	set, err := ring.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs := mustKeys(t, st)
	planted, _ := legacyRecord(t, sealer, "planted", jose.RS256, stateActive, time.Now())
	if err := st.ReplaceSigningKeys(ctx, recs, append(slices.Clone(recs), planted)); err != nil {
		t.Fatal(err)
	}
	list, err := ListKeys(ctx, st, sealer)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, k := range list {
		states[k.ID] = k.State
	}
	if states["planted"] != "unreadable" || states[set.signers[jose.RS256].id] != stateActive || len(list) != len(recs)+1 {
		t.Fatalf("listed %v; want the planted row unreadable and %s active", states, set.signers[jose.RS256].id)
	}
	// Under session keys that open nothing, every row is listed unreadable.
	other, err := ListKeys(ctx, st, testSealer(t, strings.Repeat("z", 32)))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range other {
		if k.State != "unreadable" || k.Algorithm != "" {
			t.Fatalf("under other session keys: %+v", k)
		}
	}
}
