package connectortest

import (
	"net/url"
	"time"

	"github.com/idplug/idplug/sdk"
)

// The ID token checks: with a provider made WithIDTokens, a sign-in whose token
// answer carries an ID token that is wrong in one way, or none, must fail with
// social_invalid_id_token. Each is what an attacker who can put a token in the
// connector's way (a forged answer, a token meant for another client or flow, an
// answer stripped of its token) would try.

func checkIDTokenSignature(k *kit, t T) {
	k.idTokenRefused(t, "an ID token signed with a key the provider never published", func(p *Provider, _ string) {
		p.ForgeNextIDToken()
	})
}

func checkIDTokenIssuer(k *kit, t T) {
	k.idTokenRefused(t, "an ID token whose iss is another issuer", func(p *Provider, _ string) {
		p.EditNextIDToken(func(c map[string]any) { c["iss"] = "https://elsewhere.connectortest.example" })
	})
}

func checkIDTokenAudience(k *kit, t T) {
	k.idTokenRefused(t, "an ID token whose aud is another client", func(p *Provider, _ string) {
		p.EditNextIDToken(func(c map[string]any) { c["aud"] = "another-client" })
	})
}

func checkIDTokenExpired(k *kit, t T) {
	k.idTokenRefused(t, "an ID token that expired an hour ago", func(p *Provider, _ string) {
		p.EditNextIDToken(func(c map[string]any) {
			c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		})
	})
}

func checkIDTokenNonce(k *kit, t T) {
	spoil := func(edit func(c map[string]any)) func(*Provider, string) {
		return func(p *Provider, nonce string) {
			if nonce == "" {
				k.inapplicable(t, "the authorization URL carries no nonce, so the ID token has none to check")
			}
			p.EditNextIDToken(edit)
		}
	}
	k.idTokenRefused(t, "an ID token whose nonce is another flow's", spoil(func(c map[string]any) { c["nonce"] = "connectortest-other-nonce" }))
	k.idTokenRefused(t, "an ID token without the nonce the authorization URL sent", spoil(func(c map[string]any) { delete(c, "nonce") }))
}

func checkIDTokenMissing(k *kit, t T) {
	k.idTokenRefused(t, "a token answer without the ID token the openid scope asks for", func(p *Provider, _ string) {
		p.OmitNextIDToken()
	})
}

// idTokenRefused signs in with the next token answer spoiled by spoil, which
// gets the provider and the authorization URL's nonce, and wants the sign-in
// refused with social_invalid_id_token.
func (k *kit) idTokenRefused(t T, what string, spoil func(p *Provider, nonce string)) {
	t.Helper()
	p := k.opts.Provider
	k.needSignIn(t)
	auth, callback, ok := k.authorizeAtProvider(t)
	if !ok {
		return
	}
	u, _ := url.Parse(auth.RedirectTo)
	switch {
	case !asksOpenID(u.Query().Get("scope")):
		k.inapplicable(t, "the authorization URL does not ask for the openid scope, so the connector gets no ID token")
	case !p.IssuesIDTokens():
		t.Skipf("the authorization URL asks for the openid scope, and the fake provider issues no ID tokens: " +
			"give NewProvider connectortest.WithIDTokens() so that the kit checks how the connector verifies them, " +
			"or, for a connector that never reads them, turn the id-token group off in Options.Skip, saying so")
	}
	defer p.ClearFailures()
	spoil(p, u.Query().Get("nonce"))
	_, err := k.finish(t, auth.Session, callback)
	k.wantError(t, "UserInfo with "+what, err, sdk.CodeSocialIDTokenInvalid)
}

// inapplicable ends a check that does not apply to this connector (it asks for
// no ID token, its URL sends no nonce): listed with the skips at the end of Run,
// but no failure under Options.Strict, as nothing that applies goes unchecked.
func (k *kit) inapplicable(t T, why string) {
	t.Helper()
	why = "does not apply: " + why
	if s, ok := t.(skipping); ok {
		s.skips.add(s.check, why)
		s.T.Skipf("%s", why)
		return
	}
	t.Skipf("%s", why)
}
