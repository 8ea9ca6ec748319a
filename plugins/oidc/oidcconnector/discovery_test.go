package oidcconnector

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/internal/stubprovider"
	"github.com/idplug/idplug/sdk"
)

// TestDiscoveryIsCachedUntilItExpires: one fetch serves every sign-in until the
// document's lifetime ends, then the next sign-in discovers again.
func TestDiscoveryIsCachedUntilItExpires(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(nil))
	now := fakeClock(in)
	token := func(n string) string { return sign(t, s.claims(n), jose.RS256, s.key, s.kid) }
	for range 3 {
		if _, err := s.signIn(t, in, token); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.discoveryFetches(); got != 1 {
		t.Fatalf("discovery fetched %d times for 3 sign-ins, want 1", got)
	}
	if got := s.jwksFetches(); got != 1 {
		t.Fatalf("JWK set fetched %d times for 3 sign-ins, want 1", got)
	}
	now.Add(int64(defaultMetadataTTL + time.Second))
	if _, err := s.signIn(t, in, token); err != nil {
		t.Fatal(err)
	}
	if s.discoveryFetches() != 2 || s.jwksFetches() != 2 {
		t.Fatalf("after expiry: discovery %d, JWK set %d fetches, want 2 each", s.discoveryFetches(), s.jwksFetches())
	}
}

func TestDiscoveryRefusals(t *testing.T) {
	const iss = "https://id.example.com"
	for name, doc := range map[string]string{
		"another issuer":           `{"issuer":"https://evil.example","authorization_endpoint":"https://id.example.com/a","token_endpoint":"https://id.example.com/t","jwks_uri":"https://id.example.com/k"}`,
		"no jwks_uri":              `{"issuer":"` + iss + `","authorization_endpoint":"https://id.example.com/a","token_endpoint":"https://id.example.com/t"}`,
		"script endpoint":          `{"issuer":"` + iss + `","authorization_endpoint":"javascript:alert(1)","token_endpoint":"https://id.example.com/t","jwks_uri":"https://id.example.com/k"}`,
		"template elsewhere":       `{"issuer":"https://evil.example/{tenantid}/v2.0","authorization_endpoint":"https://id.example.com/a","token_endpoint":"https://id.example.com/t","jwks_uri":"https://id.example.com/k"}`,
		"not JSON":                 `{"issuer":`,
		"token endpoint elsewhere": `{"issuer":"` + iss + `","authorization_endpoint":"https://id.example.com/a","token_endpoint":"https://collector.example/t","jwks_uri":"https://id.example.com/k"}`,
		"token endpoint over http": `{"issuer":"` + iss + `","authorization_endpoint":"https://id.example.com/a","token_endpoint":"http://id.example.com/t","jwks_uri":"https://id.example.com/k"}`,
		"another port":             `{"issuer":"` + iss + `","authorization_endpoint":"https://id.example.com/a","token_endpoint":"https://id.example.com:8443/t","jwks_uri":"https://id.example.com/k"}`,
		"userinfo elsewhere":       `{"issuer":"` + iss + `","authorization_endpoint":"https://id.example.com/a","token_endpoint":"https://id.example.com/t","userinfo_endpoint":"https://collector.example/u","jwks_uri":"https://id.example.com/k"}`,
		"keys elsewhere":           `{"issuer":"` + iss + `","authorization_endpoint":"https://id.example.com/a","token_endpoint":"https://id.example.com/t","jwks_uri":"https://keys.example/k"}`,
		"allowed host over http":   `{"issuer":"` + iss + `","authorization_endpoint":"https://id.example.com/a","token_endpoint":"http://tokens.example.com/t","jwks_uri":"https://id.example.com/k"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseDiscovery([]byte(doc), iss, []string{"tokens.example.com:443"}, true)
			if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeInvalidResponse {
				t.Fatalf("err = %v, want invalid_response", err)
			}
		})
	}
	// A host the configuration names may serve endpoints; the issuer's origin
	// with its default port spelled out is the same origin.
	ok := `{"issuer":"` + iss + `","authorization_endpoint":"https://id.example.com:443/a","token_endpoint":"https://tokens.example.com/t","jwks_uri":"https://id.example.com/k"}`
	if _, err := parseDiscovery([]byte(ok), iss, []string{"tokens.example.com:443"}, false); err != nil {
		t.Errorf("an endpoint on a named host: %v", err)
	}
	if !tenantTemplateMatches("https://login.microsoftonline.com/{tenantid}/v2.0", "https://login.microsoftonline.com/common/v2.0") {
		t.Error("the multi-tenant template does not match common")
	}
	if tenantTemplateMatches("https://login.microsoftonline.com/{tenantid}/v2.0", "https://login.microsoftonline.com/a/b/v2.0") {
		t.Error("the template matched a tenant with a slash")
	}
}

// TestADocumentTheProviderAsksNotToKeepIsKeptTheLeast: a discovery document
// and a JWK set served with max-age=0, no-store or no-cache are fetched again
// after minMetadataTTL. They were kept the default hour, longer than one
// served max-age=1: a key the provider withdrew kept verifying for that hour.
func TestADocumentTheProviderAsksNotToKeepIsKeptTheLeast(t *testing.T) {
	for _, cc := range []string{"max-age=0", "no-store", "no-cache"} {
		t.Run(cc, func(t *testing.T) {
			s := newStubOP(t)
			s.mu.Lock()
			s.cacheControl = cc
			s.mu.Unlock()
			in := parse(t, s.config(nil))
			now := fakeClock(in)
			withK1 := func(n string) string { return sign(t, s.claims(n), jose.RS256, s.key, s.kid) }
			if _, err := s.signIn(t, in, withK1); err != nil {
				t.Fatal(err)
			}
			// The provider withdraws k1 (say it leaked) and publishes k2.
			k2, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			s.keys = []jose.JSONWebKey{{Key: k2.Public(), KeyID: "k2", Algorithm: "RS256", Use: "sig"}}
			s.mu.Unlock()
			now.Add(int64(minMetadataTTL + time.Second))
			_, err = s.signIn(t, in, withK1)
			refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkUnknownKey)
			if s.discoveryFetches() != 2 || s.jwksFetches() < 2 {
				t.Fatalf("after minMetadataTTL: discovery %d, JWK set %d fetches, want both fetched again", s.discoveryFetches(), s.jwksFetches())
			}
		})
	}
}

// TestAFailedFetchKeepsTheCachedCopyForAWhile: past its lifetime, a document or
// key set whose fetch fails keeps serving, and is not fetched again for
// retryAfterFailure: a provider that hangs or fails would otherwise be asked
// at every sign-in, each one waiting out the fetch's deadline.
func TestAFailedFetchKeepsTheCachedCopyForAWhile(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(nil))
	now := fakeClock(in)
	token := func(n string) string { return sign(t, s.claims(n), jose.RS256, s.key, s.kid) }
	if _, err := s.signIn(t, in, token); err != nil {
		t.Fatal(err)
	}
	now.Add(int64(defaultMetadataTTL + time.Second))
	down := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	s.Override(s.discoveryPath(), down)
	s.Override("/jwks", down)
	for range 5 {
		if _, err := s.signIn(t, in, token); err != nil {
			t.Fatalf("a sign-in on the cached copies: %v", err)
		}
	}
	if s.discoveryFetches() != 2 || s.jwksFetches() != 2 {
		t.Fatalf("5 sign-ins while the provider is down: discovery %d, JWK set %d fetches, want 2 each (one failed)", s.discoveryFetches(), s.jwksFetches())
	}
	s.ClearOverrides()
	now.Add(int64(retryAfterFailure + time.Second))
	if _, err := s.signIn(t, in, token); err != nil {
		t.Fatal(err)
	}
	if s.discoveryFetches() != 3 || s.jwksFetches() != 3 {
		t.Fatalf("after retryAfterFailure: discovery %d, JWK set %d fetches, want 3 each", s.discoveryFetches(), s.jwksFetches())
	}
}

// TestAFailedFirstFetchIsAnsweredAgainForAWhile: with nothing cached, a
// failed fetch of the discovery document or the JWK set is answered again for
// retryUncachedAfterFailure without asking the provider. Each sign-in fetched
// again, one after another: against a provider that hangs, each waited out
// its own fetch's deadline. A fetch its caller canceled says nothing of the
// provider, and is not remembered.
func TestAFailedFirstFetchIsAnsweredAgainForAWhile(t *testing.T) {
	for _, jwks := range []bool{false, true} {
		name := map[bool]string{false: "discovery document", true: "JWK set"}[jwks]
		t.Run(name, func(t *testing.T) {
			s := newStubOP(t)
			in := parse(t, s.config(nil))
			now := fakeClock(in)
			path, fetches := s.discoveryPath(), s.discoveryFetches
			if jwks {
				path, fetches = "/jwks", s.jwksFetches
				if _, err := in.provider.endpoints(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			token := sign(t, s.claims("n"), jose.RS256, s.key, s.kid)
			call := func(ctx context.Context) error { return fetchingCall(ctx, in, jwks, token) }
			// The first request hangs until its caller cancels it; the
			// provider answers the others 503.
			arrived := make(chan struct{})
			var requests atomic.Int32
			s.Override(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if requests.Add(1) == 1 {
					close(arrived)
					<-r.Context().Done()
					return
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			}))

			ctx, cancel := context.WithCancel(context.Background())
			canceled := make(chan error, 1)
			go func() { canceled <- call(ctx) }()
			<-arrived
			cancel()
			if err := <-canceled; err == nil {
				t.Fatal("a canceled call succeeded")
			}
			if err := call(context.Background()); sdk.AsError(err).Code != sdk.CodeProviderUnavailable {
				t.Fatalf("err = %v, want provider_unavailable (the canceled fetch not remembered)", err)
			}
			for range 5 {
				if err := call(context.Background()); sdk.AsError(err).Code != sdk.CodeProviderUnavailable {
					t.Fatalf("err = %v, want the failed fetch's provider_unavailable", err)
				}
			}
			if got := fetches(); got != 2 {
				t.Fatalf("7 calls while %s fails: %d fetches of it, want 2 (the canceled one, and one that failed)", path, got)
			}

			s.ClearOverrides()
			now.Add(int64(retryUncachedAfterFailure + time.Second))
			if err := call(context.Background()); err != nil {
				t.Fatalf("after retryUncachedAfterFailure: %v", err)
			}
			if got := fetches(); got != 3 {
				t.Fatalf("after retryUncachedAfterFailure: %d fetches of %s, want 3", got, path)
			}
		})
	}
}

// TestWaitingForAFetchEndsWithTheCallersContext: calls that find another
// call fetching the discovery document or the JWK set wait for it, but no
// longer than their own context allows, and those that wait to its end take
// its answer. They queued under a lock that ignored their context, each then
// fetching in turn: five calls against a provider that hangs ended after one,
// two, three, four and five request timeouts.
func TestWaitingForAFetchEndsWithTheCallersContext(t *testing.T) {
	for _, jwks := range []bool{false, true} {
		name := map[bool]string{false: "discovery document", true: "JWK set"}[jwks]
		t.Run(name, func(t *testing.T) {
			s := newStubOP(t)
			path, fetches := s.discoveryPath(), s.discoveryFetches
			if jwks {
				path, fetches = "/jwks", s.jwksFetches
			}
			arrived, answer := make(chan struct{}, 1), make(chan struct{})
			s.Override(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case arrived <- struct{}{}:
				default:
				}
				select {
				case <-answer:
					w.WriteHeader(http.StatusServiceUnavailable)
				case <-r.Context().Done():
				}
			}))
			in := parse(t, s.config(nil))
			token := sign(t, s.claims("n"), jose.RS256, s.key, s.kid)
			call := func(ctx context.Context) error { return fetchingCall(ctx, in, jwks, token) }
			if jwks { // discovered first, so that the calls below meet at the JWK set
				if _, err := in.provider.endpoints(context.Background()); err != nil {
					t.Fatal(err)
				}
			}

			first := make(chan error, 1)
			go func() { first <- call(context.Background()) }()
			<-arrived

			// A call whose caller gives up while the first one's fetch hangs
			// returns then, not after that fetch.
			ctx, cancel := context.WithCancel(context.Background())
			gaveUp := make(chan error, 1)
			go func() { gaveUp <- call(ctx) }()
			cancel()
			if err := <-gaveUp; err == nil {
				t.Fatal("a canceled call succeeded")
			}
			// Calls that wait to the end take the first fetch's answer.
			const waiting = 3
			results := make(chan error, waiting)
			for range waiting {
				go func() { results <- call(context.Background()) }()
			}
			close(answer)
			// The first call got the provider's 503: its fetch was still
			// waiting for it when the canceled call returned.
			if err := <-first; sdk.AsError(err).Code != sdk.CodeProviderUnavailable {
				t.Fatalf("first call: err = %v, want the provider's provider_unavailable", err)
			}
			for range waiting {
				if err := <-results; sdk.AsError(err).Code != sdk.CodeProviderUnavailable {
					t.Fatalf("a waiting call: err = %v, want the first fetch's provider_unavailable", err)
				}
			}
			if got := fetches(); got != 1 {
				t.Fatalf("%d fetches of %s for %d calls, want 1", got, path, waiting+2)
			}
		})
	}
}

// TestAnUnusableAnswerCountsAsAFailedFetch: a document or key set that
// arrives but cannot be used (not the right shape, too many keys, another
// issuer) is a failed fetch like an outage: the cached copy keeps serving, and
// is not fetched again for retryAfterFailure. Else every sign-in would fetch
// it again, and fail.
func TestAnUnusableAnswerCountsAsAFailedFetch(t *testing.T) {
	tooMany := `{"keys":[{}` + strings.Repeat(`,{}`, maxKeys) + `]}`
	for _, c := range []struct {
		name, body string
		discovery  bool
	}{
		{"JWK set whose keys are no list", `{"keys":"not a list"}`, false},
		{"JWK set without keys", `{}`, false},
		{"JWK set of too many keys", tooMany, false},
		{"discovery document whose issuer is no string", `{"issuer":1}`, true},
		{"discovery document of another issuer", `{"issuer":"https://elsewhere.example","authorization_endpoint":"https://elsewhere.example/a","token_endpoint":"https://elsewhere.example/t","jwks_uri":"https://elsewhere.example/k"}`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStubOP(t)
			in := parse(t, s.config(nil))
			now := fakeClock(in)
			token := func(n string) string { return sign(t, s.claims(n), jose.RS256, s.key, s.kid) }
			if _, err := s.signIn(t, in, token); err != nil {
				t.Fatal(err)
			}
			path, fetches := "/jwks", s.jwksFetches
			if c.discovery {
				path, fetches = s.discoveryPath(), s.discoveryFetches
			}
			now.Add(int64(defaultMetadataTTL + time.Second))
			s.Override(path, stubprovider.Reply(http.StatusOK, "application/json", c.body))
			for range 5 {
				if _, err := s.signIn(t, in, token); err != nil {
					t.Fatalf("a sign-in on the cached copy: %v", err)
				}
			}
			if got := fetches(); got != 2 {
				t.Fatalf("5 sign-ins while %s is served: %d fetches of it, want 2 (one unusable)", path, got)
			}
			now.Add(int64(retryAfterFailure + time.Second))
			if _, err := s.signIn(t, in, token); err != nil {
				t.Fatal(err)
			}
			if got := fetches(); got != 3 {
				t.Fatalf("after retryAfterFailure: %d fetches of %s, want 3", got, path)
			}
		})
	}
}

// TestTooManyKeysAreRefused: a token without a kid is tried against every key
// of the set; a set of thousands would cost seconds of CPU a token.
func TestTooManyKeysAreRefused(t *testing.T) {
	s := newStubOP(t)
	s.mu.Lock()
	for i := range maxKeys {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		s.keys = append(s.keys, jose.JSONWebKey{Key: k.Public(), KeyID: fmt.Sprintf("extra-%d", i), Algorithm: "RS256", Use: "sig"})
	}
	s.mu.Unlock()
	_, err := s.signIn(t, parse(t, s.config(nil)), func(n string) string { return sign(t, s.claims(n), jose.RS256, s.key, "") })
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeInvalidResponse || !strings.Contains(e.Message, "holds 65 keys") {
		t.Fatalf("err = %v, want the set refused", err)
	}
}

// fakeClock puts in's discovery and key set on a clock of the test's, which
// starts at the real time and moves only when the test adds to it (nanoseconds).
func fakeClock(in *Instance) *atomic.Int64 {
	now := new(atomic.Int64)
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	in.provider.now, in.provider.keys.now = clock, clock
	return now
}

// fetchingCall is a call that needs the discovery document (an authorization
// URL) or, with jwks, the JWK set (an ID token's verification).
func fetchingCall(ctx context.Context, in *Instance, jwks bool, token string) error {
	if jwks {
		_, err := in.VerifyIDToken(ctx, token, "")
		return err
	}
	_, err := connector{}.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{RedirectURI: stubRedirect, State: "st"})
	return err
}
