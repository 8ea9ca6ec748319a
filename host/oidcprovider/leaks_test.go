package oidcprovider

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/slogbridge"
)

// What the provider (and zitadel/oidc under it, which logs through slog's
// default logger, idplug's log in idplug serve) writes to the log and answers
// to anyone.

// captureSlog sends slog's default logger through idplug's bridge to an hclog
// logger at info, as idplug serve sets it up, into a buffer for the test.
func captureSlog(t *testing.T) *logBuffer {
	t.Helper()
	buf := &logBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slogbridge.New(hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Info, JSONFormat: true}))))
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf
}

// An app's silent sign-in check (prompt=none) of a browser that is not signed
// in is refused with login_required, redirected to the app: the library logs
// that redirect at WARN, with the app's state in oidc_error.state and in the
// whole redirect URL (SPAs send one on every page load). idplug's log holds
// neither.
func TestErrorRedirectsDoNotLogTheAppsState(t *testing.T) {
	log := captureSlog(t)
	s := newHostileSetup(t)
	const state = "app-csrf-state-Zq8vK2mN4pR7tX1y"
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "prompt": {"none"}, "state": {state}}
	rec := s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if loc == nil || loc.Query().Get("error") != "login_required" {
		t.Fatalf("authorize: %d, Location %q; want a login_required redirect", rec.Code, rec.Header().Get("Location"))
	}
	if strings.Contains(log.String(), state) {
		t.Errorf("the log holds the app's state:\n%s", log.String())
	}
}

// failingKeysStore answers every signing key read with what pgx says when the
// database refuses idplug (as the store's deadline wrapper passes it on).
type failingKeysStore struct{ store.Store }

const dbDetail = "failed to connect to `user=idplug_app database=idplug_prod`: 10.20.30.40:5432 (db-primary.internal)"

func (failingKeysStore) SigningKeys(context.Context) ([]store.SigningKeyRecord, error) {
	return nil, fmt.Errorf("%w: signing_keys: %s: server error: FATAL: password authentication failed", store.ErrUnavailable, dbDetail)
}

// /readyz says only "the store cannot be reached"; the provider's public key
// set and readiness endpoints had answered the store's own words (database
// user, name, address) to anyone, as the error_description of a server_error.
func TestPublicEndpointsDoNotAnswerTheStoresWords(t *testing.T) {
	s := newHostileSetup(t)
	s.p.keys.st = failingKeysStore{s.store}
	for _, path := range []string{"/keys", "/ready"} {
		rec := s.do(httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code < 500 {
			t.Fatalf("%s: %d %s; want a server error", path, rec.Code, rec.Body)
		}
		if body := rec.Body.String(); strings.Contains(body, "10.20.30.40") || strings.Contains(body, "idplug_app") {
			t.Errorf("%s answers the store's error to anyone: %s", path, body)
		}
	}
}
