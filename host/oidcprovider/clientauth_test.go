package oidcprovider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
)

// With SQLite, idplug serve hands the provider the store that keeps consumed
// flows in memory (store.KeepFlowsInMemory), which refuses the ids of runs
// before an unclean stop. The provider's assertion ids name no run: they had
// counted as run 0, so after one unclean stop every private_key_jwt client
// authentication failed with a server_error, at every later start too. They
// are consumed in the file now (their replay after a crash is the store's
// TestLocalFlowsIdsWithoutARunStaySingleUseAcrossCrashes).
func TestPrivateKeyJWTAfterAnUncleanStopOfSQLite(t *testing.T) {
	// Control: the same assertion on a store that never crashed authenticates.
	if got := privateKeyJWTOnSQLite(t, false); got != "invalid_grant" {
		t.Fatalf("control, no crash: %s; want invalid_grant (the test's assertion is broken)", got)
	}
	if got := privateKeyJWTOnSQLite(t, true); got != "invalid_grant" {
		t.Fatalf("a fresh, valid private_key_jwt assertion after an unclean stop of the SQLite store: %s; "+
			"want the client authenticated (invalid_grant for the bad refresh token)", got)
	}
}

// privateKeyJWTOnSQLite sends a fresh private_key_jwt assertion to the token
// endpoint of a provider on a SQLite store kept as idplug serve keeps it, after
// a run that crashed when crashed is set, and returns what it answered.
func privateKeyJWTOnSQLite(t *testing.T, crashed bool) string {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idplug.db")
	openLocal := func() (raw, st store.Store) {
		raw, err := store.Open(ctx, "sqlite:"+path, store.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		timed := store.Timed(raw, 5*time.Second, 10*time.Second, nil)
		st, err = store.KeepFlowsInMemory(ctx, raw, timed, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return raw, st
	}
	// A run that ends without Close: a crash, a SIGKILL, an OOM kill.
	if crashed {
		crashedRaw, _ := openLocal()
		crashedRaw.Close()
	}
	// The next start, as idplug serve opens it.
	_, st := openLocal()
	t.Cleanup(func() { st.Close() })

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "http://127.0.0.1:9/oidc"
	sealer := testSealer(t)
	cfg := &config.Provider{Issuer: issuer, IssuerPath: "/oidc",
		AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: time.Hour, SSOTTL: 8 * time.Hour,
		Clients: []config.Client{{ID: "pk", AuthMethod: config.AuthPrivateKeyJWT, JWKS: jwks,
			RedirectURIs: []string{"https://app.test/cb"}}}}
	p, err := New(Options{Config: cfg, Store: st, Sealer: func() *seal.Sealer { return sealer },
		Targets:      func(id string) (string, bool) { return "acme-target", id == "acme" },
		AllInstances: func() []string { return []string{"acme"} },
		Browser:      &testBrowser{}, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": "pk", "sub": "pk", "aud": []string{issuer},
		"jti": fmt.Sprint("jti-", now.UnixNano()), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	jws, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	// A refresh with a token that is no good: a client that authenticated gets
	// invalid_grant (400); one that did not, invalid_client (401).
	rec := (&hostileSetup{p: p}).do(form(http.MethodPost, "/oauth/token", url.Values{
		"grant_type":            {"refresh_token"},
		"refresh_token":         {"not-a-refresh-token"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}))
	var answer struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	t.Logf("crashed=%v: %d %s (%s)", crashed, rec.Code, answer.Error, answer.Description)
	return answer.Error
}
