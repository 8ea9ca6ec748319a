package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/testport"
	"golang.org/x/oauth2"
)

// OpenID Connect Core 3.1.2.6 and RFC 6749 4.1.2.1: a sign-in through a
// connector that is refused (by the connector's mapping, or at the provider,
// where the person cancels) reaches the app at its redirect URI as
// access_denied, with its state and iss (RFC 9207), not idplug's error page.
// The failure comes back to the provider sealed for its request: made out to
// another request, it ends nothing.
func TestProviderTellsTheAppOfARefusedSignIn(t *testing.T) {
	port := testport.Free(t)
	public := "http://127.0.0.1:" + strconv.Itoa(port)
	upSecret := oidctest.NewClientSecret(t)
	upstream := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{
		ID: "idplug", Secret: upSecret, AuthMethod: "client_secret_basic",
		RedirectURIs: []string{public + "/callback/acme", public + "/callback/beta", public + "/callback/gamma"},
	}}})
	var doc map[string]any
	if err := json.Unmarshal([]byte(providerConfig(t, public, port, upstream, upSecret, "")), &doc); err != nil {
		t.Fatal(err)
	}
	conns := doc["connectors"].([]any)
	// acme's mapping refuses every account; at beta's provider the person
	// is one it does not know, and it answers access_denied, as when the
	// person cancels; gamma signs in.
	acme, beta := conns[0].(map[string]any), conns[1].(map[string]any)
	acme["mapping"] = map[string]any{"allow": "false", "allow_reason": "this account may not use the app"}
	gamma := map[string]any{"id": "gamma", "plugin": "oauth2", "config": beta["config"]}
	cancelling := map[string]any{"customConfig": map[string]string{"login_hint": "mallory"}}
	for k, v := range beta["config"].(map[string]any) {
		cancelling[k] = v
	}
	beta["config"] = cancelling
	doc["connectors"] = append(conns, gamma)
	cfg, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p := startIdplug(t, pluginFolder(t, "oauth2"), string(cfg))
	e := newOPEnv(t, p, public, upstream, nil)
	authorize := func(state, connector string) string {
		_, challenge := pkce()
		return e.app.AuthCodeURL(state, append(challenge, gooidc.Nonce("n"), oauth2.SetAuthURLParam("connector_id", connector))...)
	}
	// refused walks a sign-in through connector to the app and checks it is
	// told access_denied, in words that hold want.
	refused := func(t *testing.T, connector, want string) {
		t.Helper()
		state := random(t)
		cb, err := newBrowser(t).walk(t, authorize(state, connector), rpCallback)
		if err != nil {
			t.Fatalf("the app is never told of the refused sign-in: %v\n%s", err, p.logs)
		}
		q := cb.Query()
		if q.Get("error") != "access_denied" || q.Get("state") != state || q.Get("iss") != e.issuer || q.Get("code") != "" {
			t.Fatalf("the app is told %v; want access_denied with its state and iss %s", q, e.issuer)
		}
		if !strings.Contains(q.Get("error_description"), want) {
			t.Errorf("error_description %q; want it to say %q", q.Get("error_description"), want)
		}
	}

	t.Run("the mapping refuses", func(t *testing.T) {
		refused(t, "acme", "this account may not use the app")
	})
	t.Run("the person cancels at the provider", func(t *testing.T) {
		refused(t, "beta", "access_denied")
	})
	t.Run("a failure ends its own request only", func(t *testing.T) {
		// Someone's request, on its way to gamma's provider.
		victim := newBrowser(t)
		victimState := random(t)
		atSignIn, err := victim.walk(t, authorize(victimState, "gamma"), public+"/sign-in/gamma")
		if err != nil {
			t.Fatal(err)
		}
		returnTo, _ := url.Parse(atSignIn.Query().Get("returnTo"))
		victimID := returnTo.Query().Get("id")
		if victimID == "" {
			t.Fatalf("no request id in %s", atSignIn)
		}
		// Another browser's refused sign-in, stopped on its way back.
		other := newBrowser(t)
		back, err := other.walk(t, authorize(random(t), "acme"), e.issuer+"/login/finish")
		if err != nil || back.Query().Get("failed") == "" {
			t.Fatalf("the refused sign-in's way back: %v, %v", back, err)
		}
		// Its failure, or a made-up one, brought to the other request.
		for _, b := range []*browser{other, victim} {
			for _, failed := range []string{back.Query().Get("failed"), "made-up"} {
				forged := e.issuer + "/login/finish?" + url.Values{"id": {victimID}, "failed": {failed}}.Encode()
				if loc, err := b.walk(t, forged, rpCallback); err == nil {
					t.Fatalf("a failure made for another request ended it: %s", loc)
				}
			}
		}
		// The request signs in, as if nothing happened.
		cb, err := victim.walk(t, atSignIn.String(), rpCallback)
		if err != nil {
			t.Fatalf("the request after another's failure was brought to it: %v\n%s", err, p.logs)
		}
		if q := cb.Query(); q.Get("code") == "" || q.Get("state") != victimState {
			t.Fatalf("the request after another's failure: %v; want its code", q)
		}
		// The failure's own request hears of it once.
		cb, err = other.walk(t, back.String(), rpCallback)
		if err != nil || cb.Query().Get("error") != "access_denied" {
			t.Fatalf("the way back: %v, %v; want access_denied", cb, err)
		}
		if cb, err := other.walk(t, back.String(), rpCallback); err == nil {
			t.Fatalf("the way back again: %s; want the request spent", cb)
		}
	})
	t.Run("a sign-in no app asked for fails on the page", func(t *testing.T) {
		_, err := newBrowser(t).walk(t, public+"/sign-in/acme", rpCallback)
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "this account may not use the app") {
			t.Fatalf("the refused sign-in: %v; want idplug's page (401) with the mapping's reason", err)
		}
	})
}
