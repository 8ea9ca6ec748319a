package oidcprovider

import (
	"net/http"
	"net/url"
	"testing"
)

// TestAnotherClientCannotTellALiveCodeOrRefreshTokenFromAMadeUpOne: the token
// endpoint had answered another client's live code "the code was issued to
// another client" (and a refresh token alike), where a made-up, spent or
// expired one got "the code is invalid, used or expired". Any other
// configured client could so test whether a code or refresh token it came by
// (a log line, a Referer, a proxy) is live, and so could anyone at all: a
// public client's id is a credential nobody needs to hold. Both now get the
// same answer; the log says which it was.
func TestAnotherClientCannotTellALiveCodeOrRefreshTokenFromAMadeUpOne(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")

	answer := func(v url.Values) string {
		rec := s.do(form(http.MethodPost, "/oauth/token", v))
		return http.StatusText(rec.Code) + " " + rec.Body.String()
	}
	asPost := func(v url.Values) url.Values {
		v.Set("client_id", "post")
		v.Set("client_secret", postSecret)
		return v
	}
	asNative := func(v url.Values) url.Values { v.Set("client_id", "native"); return v }

	live := s.code(t, "openid offline_access")
	_, refresh := s.tokens(t)
	const madeUpRefresh = "AW70mJY3DTTr0U_txixUNmSoQE8_Hxht_u79QH3HpC_O63MTazxCq-e71P-9yhqUDIpmrPR7edOQgSti8pBbnEK8cCkBiz3ZCs5jgok8JVo25EBPGNfj4z"

	for name, as := range map[string]func(url.Values) url.Values{"a confidential client": asPost, "anyone, as the public client": asNative} {
		code := func(c string) url.Values {
			return as(url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {"https://post.test/cb"}})
		}
		if got, madeUp := answer(code(live)), answer(code(newID())); got != madeUp {
			t.Errorf("%s tells the web app's live code from a made-up one:\n  live:    %s\n  made up: %s", name, got, madeUp)
		}
		tok := func(r string) url.Values {
			return as(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r}})
		}
		if got, madeUp := answer(tok(refresh)), answer(tok(madeUpRefresh)); got != madeUp {
			t.Errorf("%s tells the web app's live refresh token from a made-up one:\n  live:    %s\n  made up: %s", name, got, madeUp)
		}
	}
	// The web app's own artefacts still work: nothing above spent them.
	if !s.refreshes(t, refresh) {
		t.Fatal("the web app's refresh token stopped working")
	}
}
