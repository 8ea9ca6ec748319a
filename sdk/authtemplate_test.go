package sdk

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// fixedRandom gives the same bytes every time, so two builds can be compared.
func fixedRandom() *bytes.Reader {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return bytes.NewReader(b)
}

func TestTemplateBuild(t *testing.T) {
	tmpl := fixtureTemplate()
	if err := tmpl.Check(); err != nil {
		t.Fatal(err)
	}
	auth, err := tmpl.Build(AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "st"}, fixedRandom())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	q := u.Query()
	want := map[string]string{"tenant": "a", "client_id": "c", "response_type": "code", "state": "st",
		"redirect_uri": "https://rp.test/cb", "scope": "openid email", "code_challenge_method": "S256"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	sum := sha256.Sum256([]byte(auth.Session["codeVerifier"]))
	if q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Error("code_challenge is not the S256 of the session's verifier")
	}
	if q.Get("nonce") == "" || q.Get("nonce") != auth.Session["nonce"] || q.Get("nonce") == auth.Session["codeVerifier"] {
		t.Errorf("nonce %q must be in the URL and the session, and not be the verifier", q.Get("nonce"))
	}
	if auth.Session["state"] != "st" || auth.Session["redirectUri"] != "https://rp.test/cb" || auth.Session["issuer"] != "https://op.test" {
		t.Errorf("session = %v", auth.Session)
	}
	again, _ := tmpl.Build(AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "st"}, fixedRandom())
	if !reflect.DeepEqual(auth, again) {
		t.Error("the same template, request and randomness must give the same authorization")
	}
	fresh, _ := tmpl.Build(AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "st"}, nil)
	if fresh.Session["codeVerifier"] == auth.Session["codeVerifier"] {
		t.Error("without a fixed source every build must draw a fresh verifier")
	}
}

func TestTemplateScope(t *testing.T) {
	tmpl := fixtureTemplate()
	for asked, want := range map[string]string{"": "openid email", "email": "openid email", "email+profile": "openid email profile", "profile openid": "profile openid"} {
		auth, err := tmpl.Build(AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "s", Scope: asked}, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(auth.RedirectTo)
		if got := u.Query().Get("scope"); got != want {
			t.Errorf("asked %q: scope = %q, want %q", asked, got, want)
		}
	}
	plain := &AuthorizationTemplate{Endpoint: "https://op.test/a", StateParam: "state", RedirectURIParam: "redirect_uri", ScopeParam: "scope", Session: SessionTemplate{State: "s"}}
	auth, _ := plain.Build(AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "s", Scope: "a+b"}, nil)
	if u, _ := url.Parse(auth.RedirectTo); u.Query().Get("scope") != "a+b" {
		t.Errorf("without required scopes the requested scope goes as asked, got %q", u.Query().Get("scope"))
	}
}

func TestTemplateRequestChecks(t *testing.T) {
	tmpl := fixtureTemplate()
	for _, req := range []AuthorizationRequest{{RedirectURI: "/cb", State: "s"}, {RedirectURI: "https://rp.test/cb"}} {
		_, err := tmpl.Build(req, nil)
		if AsError(err).Code != CodeInvalidRequestParameters {
			t.Errorf("%+v: err = %v, want invalid_request_parameters", req, err)
		}
	}
	if _, err := tmpl.Build(AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "s"}, bytes.NewReader(nil)); err == nil {
		t.Error("a build without randomness must fail, not send a guessable verifier")
	}
	// A connector's template method returns nil for what it cannot express.
	var none *AuthorizationTemplate
	if _, err := none.Build(AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "s"}, nil); AsError(err).Code != CodeInvalidConfig {
		t.Errorf("a nil template: %v, want invalid_config", err)
	}
}

// TestTemplateChecks: what a plugin could declare to weaken a flow is refused,
// each with the field named.
func TestTemplateChecks(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*AuthorizationTemplate)
		want string
	}{
		"javascript endpoint":    {func(t *AuthorizationTemplate) { t.Endpoint = "javascript:alert(1)" }, "endpoint"},
		"relative endpoint":      {func(t *AuthorizationTemplate) { t.Endpoint = "/authorize" }, "endpoint"},
		"fragment":               {func(t *AuthorizationTemplate) { t.Endpoint = "https://op.test/a#x" }, "fragment"},
		"no state":               {func(t *AuthorizationTemplate) { t.StateParam = "" }, "stateParam"},
		"no redirect":            {func(t *AuthorizationTemplate) { t.RedirectURIParam = "" }, "redirectUriParam"},
		"fixed state":            {func(t *AuthorizationTemplate) { t.Params["state"] = "always" }, "params"},
		"fixed challenge":        {func(t *AuthorizationTemplate) { t.Params["code_challenge"] = "x" }, "params"},
		"state as redirect":      {func(t *AuthorizationTemplate) { t.RedirectURIParam = "state" }, "redirectUriParam"},
		"scope as nonce":         {func(t *AuthorizationTemplate) { t.NonceParam = "scope" }, "nonceParam"},
		"no session state":       {func(t *AuthorizationTemplate) { t.Session.State = "" }, "session.state"},
		"no verifier key":        {func(t *AuthorizationTemplate) { t.Session.CodeVerifier = "" }, "session.codeVerifier"},
		"fixed state in session": {func(t *AuthorizationTemplate) { t.Session.Fixed["state"] = "x" }, "session.fixed"},
		"verifier as nonce key":  {func(t *AuthorizationTemplate) { t.Session.Nonce = "codeVerifier" }, "session.nonce"},
		"two scopes in one":      {func(t *AuthorizationTemplate) { t.RequiredScopes = []string{"openid email"} }, "requiredScopes"},
		"too many":               {func(t *AuthorizationTemplate) { t.Params = bigMap(100) }, "more than"},
	} {
		tmpl := fixtureTemplate()
		tc.edit(tmpl)
		err := tmpl.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %q", name, err, tc.want)
		}
	}
}

func bigMap(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[strings.Repeat("k", i+1)] = "v"
	}
	return m
}

// The names of the per-request parameters and the session's keys were not
// bounded: a template whose state parameter was named with a megabyte passed,
// and every URL and session the host built from it carried that megabyte. Each
// name is now bounded, and the whole template too.
func TestTemplateCheckBoundsEveryName(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	for name, edit := range map[string]func(*AuthorizationTemplate){
		"stateParam":           func(t *AuthorizationTemplate) { t.StateParam = huge },
		"redirectUriParam":     func(t *AuthorizationTemplate) { t.RedirectURIParam = huge },
		"scopeParam":           func(t *AuthorizationTemplate) { t.ScopeParam = huge },
		"nonceParam":           func(t *AuthorizationTemplate) { t.NonceParam = huge },
		"session.state":        func(t *AuthorizationTemplate) { t.Session.State = huge },
		"session.codeVerifier": func(t *AuthorizationTemplate) { t.Session.CodeVerifier = huge },
	} {
		tmpl := fixtureTemplate()
		edit(tmpl)
		if err := tmpl.Check(); err == nil {
			auth, _ := tmpl.Build(AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "st"}, fixedRandom())
			size := len(auth.RedirectTo)
			for k, v := range auth.Session {
				size += len(k) + len(v)
			}
			t.Errorf("%s of 1 MiB passes Check; each build is %d bytes", name, size)
		}
	}
}

// No fixed parameter names a per-request one: with PKCE off a fixed
// code_challenge passed, and so did a fixed nonce without nonceParam.
func TestTemplateCheckRefusesAPinnedChallenge(t *testing.T) {
	tmpl := fixtureTemplate()
	tmpl.PKCE, tmpl.Session.CodeVerifier = false, ""
	tmpl.Params["code_challenge"] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	tmpl.Params["code_challenge_method"] = "S256"
	if err := tmpl.Check(); err == nil {
		t.Error("a template pinning code_challenge (PKCE off) passes Check")
	}
	tmpl = fixtureTemplate()
	tmpl.NonceParam, tmpl.Session.Nonce = "", ""
	tmpl.Params["nonce"] = "n"
	if err := tmpl.Check(); err == nil {
		t.Error("a template pinning a nonce passes Check")
	}
	// Within the bounds, in all: 64 entries of 4 KB are no longer a valid template.
	tmpl = fixtureTemplate()
	for i := range 20 {
		tmpl.Params[fmt.Sprint("p", i)] = strings.Repeat("v", 1000)
	}
	if err := tmpl.Check(); err == nil || !strings.Contains(err.Error(), "in all") {
		t.Errorf("20 KB of parameters: %v", err)
	}
}
