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
	"strings"
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

	p, sign := keyClientProvider(t, st)
	now := time.Now()
	assertion := sign(map[string]any{"iss": "pk", "sub": "pk", "aud": []string{keyClientIssuer},
		"jti": fmt.Sprint("jti-", now.UnixNano()), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	got := authenticateWith(p, assertion)
	t.Logf("crashed=%v: %s", crashed, got)
	return strings.SplitN(got, " ", 2)[0]
}

const keyClientIssuer = "http://127.0.0.1:9/oidc"

// keyClientProvider is a provider on st with one private_key_jwt client, pk,
// and a function that signs an assertion's claims with pk's key.
func keyClientProvider(t *testing.T, st store.Store) (*Provider, func(claims map[string]any) string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := pkClientProvider(t, st, jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	return p, func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		jws, err := signer.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		assertion, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return assertion
	}
}

// authenticateWith sends assertion to the token endpoint with a refresh token
// that is no good, and returns "error (description)": a client that
// authenticated gets invalid_grant (400); one that did not, invalid_client (401).
func authenticateWith(p *Provider, assertion string) string {
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
	return fmt.Sprintf("%s (%d: %s)", answer.Error, rec.Code, answer.Description)
}

// OpenID Connect Core 9: an assertion's aud SHOULD be the token endpoint's URL;
// the issuer is taken too (RFC 7523 3), and nothing else.
func TestPrivateKeyJWTAudiences(t *testing.T) {
	p, sign := keyClientProvider(t, testStore(t))
	for aud, want := range map[string]string{
		keyClientIssuer:                  "invalid_grant",
		keyClientIssuer + "/oauth/token": "invalid_grant",
		keyClientIssuer + "/revoke":      "invalid_client",
		"https://elsewhere.test/token":   "invalid_client",
		"http://127.0.0.1:9/oauth/token": "invalid_client",
	} {
		now := time.Now()
		got := authenticateWith(p, sign(map[string]any{"iss": "pk", "sub": "pk", "aud": aud,
			"jti": fmt.Sprint("jti-", now.UnixNano()), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}))
		if !strings.HasPrefix(got, want+" ") {
			t.Errorf("aud %s: %s; want %s", aud, got, want)
		}
	}
}

// A spent jti outlives its assertion by a margin: a replica whose clock runs
// ahead purges what has expired by its clock, and must not free a jti that
// another replica still takes.
func TestAssertionIDsOutliveAReplicaWhoseClockRunsAhead(t *testing.T) {
	st := testStore(t)
	p, sign := keyClientProvider(t, st)
	now := time.Now()
	assertion := sign(map[string]any{"iss": "pk", "sub": "pk", "aud": keyClientIssuer,
		"jti": "once", "iat": now.Unix(), "exp": now.Add(30 * time.Second).Unix()})
	if got := authenticateWith(p, assertion); !strings.HasPrefix(got, "invalid_grant ") {
		t.Fatalf("first use: %s", got)
	}
	if got := authenticateWith(p, assertion); !strings.HasPrefix(got, "invalid_client ") {
		t.Fatalf("replay: %s", got)
	}
	// Another replica, its clock 40 s ahead, purges.
	if _, err := st.Purge(t.Context(), now.Add(40*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := authenticateWith(p, assertion); !strings.HasPrefix(got, "invalid_client ") {
		t.Fatalf("replayed after a purge by a clock 40 s ahead: %s; want invalid_client", got)
	}
}

// pkClientProvider is a provider on st with one private_key_jwt client, pk,
// whose one key is jwk.
func pkClientProvider(t *testing.T, st store.Store, jwk jose.JSONWebKey) *Provider {
	t.Helper()
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	sealer := testSealer(t)
	cfg := &config.Provider{Issuer: keyClientIssuer, IssuerPath: "/oidc",
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
	return p
}
