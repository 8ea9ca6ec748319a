package server

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// repointedInstances is fakeInstances whose connector a reload can point at
// another provider (TokensProvider names it).
type repointedInstances struct {
	*fakeInstances
	provider atomic.Pointer[string]
}

func (r *repointedInstances) TokensProvider(id string) (string, error) {
	if _, err := r.fakeInstances.TokensProvider(id); err != nil {
		return "", err
	}
	return *r.provider.Load(), nil
}

func (r *repointedInstances) point(p string) { r.provider.Store(&p) }

// A sign-in started while the connector signed in at one provider, finished
// after a reload pointed it at another: the first provider's code, and the
// PKCE verifier made for it, had gone to the second one's token endpoint.
// The flow keeps who its connector named, and finishes only while it still
// does; nothing is spent, so pointed back, the connector finishes it.
func TestFlowFinishesOnlyAtTheProviderItStartedWith(t *testing.T) {
	t.Run("api", func(t *testing.T) {
		in := &repointedInstances{fakeInstances: signingIn("ada")}
		in.point("oauth2\nhttps://first.test/token client=idplug")
		srv := newUnitServer(t, in, nil)
		body := apiStart(t, srv)

		in.point("oauth2\nhttps://second.test/token client=idplug") // a reload
		res := call(t, srv, "POST", "/v1/connectors/acme/user-info", "", body)
		if res.status != http.StatusBadRequest || !strings.Contains(res.body.Message, "pointed at another provider") {
			t.Fatalf("user-info after the connector was pointed elsewhere: %d %s", res.status, res.raw)
		}
		if slices.Contains(in.called(), "UserInfo") {
			t.Fatal("the plugin was asked to exchange the first provider's code")
		}

		// A flow started while the plugin named no provider finishes once
		// the same plugin names one (an upgrade), not once another does.
		in.point("oauth2\n")
		early := apiStart(t, srv)
		in.point("github\nhttps://github.com/login/oauth/access_token client=x")
		if res := call(t, srv, "POST", "/v1/connectors/acme/user-info", "", early); res.status != http.StatusBadRequest {
			t.Fatalf("a flow of a plugin that named no provider, finished at another plugin: %d %s", res.status, res.raw)
		}
		in.point("oauth2\nhttps://second.test/token client=idplug")
		if res := call(t, srv, "POST", "/v1/connectors/acme/user-info", "", early); res.status != 200 {
			t.Fatalf("a flow of a plugin that named no provider, finished once it names one: %d %s", res.status, res.raw)
		}

		in.point("oauth2\nhttps://first.test/token client=idplug") // pointed back
		if res := call(t, srv, "POST", "/v1/connectors/acme/user-info", "", body); res.status != 200 {
			t.Fatalf("user-info once the connector is back at its provider: %d %s", res.status, res.raw)
		}
	})
	t.Run("browser", func(t *testing.T) {
		f := newFlowInstances("https://provider.test/authorize")
		var provider atomic.Pointer[string]
		point := func(p string) { provider.Store(&p) }
		point("oauth2\nhttps://first.test/token client=idplug")
		srv := newUnitServer(t, tokensProviderOf{f, &provider}, nil)
		b := newJarBrowser(srv, "https://idp.example.test")
		state := b.startSignIn(t, "acme", "/")
		point("oauth2\nhttps://second.test/token client=idplug")
		rec := b.callback("acme", "c", state)
		if !strings.Contains(rec.Body.String(), "pointed at another provider") || slices.Contains(f.called(), "UserInfo") {
			t.Fatalf("callback after the connector was pointed elsewhere: %d %.300s; calls %v", rec.Code, rec.Body, f.called())
		}
		point("oauth2\nhttps://first.test/token client=idplug")
		if rec := b.callback("acme", "c", state); rec.Code != http.StatusFound || !slices.Contains(f.called(), "UserInfo") {
			t.Fatalf("callback once the connector is back at its provider: %d %.300s", rec.Code, rec.Body)
		}
	})
}

// tokensProviderOf is flowInstances naming the provider p holds.
type tokensProviderOf struct {
	*flowInstances
	p *atomic.Pointer[string]
}

func (t tokensProviderOf) TokensProvider(id string) (string, error) {
	if _, err := t.flowInstances.TokensProvider(id); err != nil {
		return "", err
	}
	return *t.p.Load(), nil
}
