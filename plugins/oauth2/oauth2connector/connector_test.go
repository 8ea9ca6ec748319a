package oauth2connector

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/stubprovider"
	"github.com/idplug/idplug/sdk"
)

func TestAuthorizationURI(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(map[string]any{
		"authorizationEndpoint": p.URL() + "/authorize?tenant=acme",
		"customConfig":          map[string]any{"prompt": "consent"},
		"issuer":                "https://id.example.com",
	}))
	auth, err := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: testRedirectURI, State: "STATE-1"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	q := u.Query()
	if u.Path != "/authorize" || q.Get("tenant") != "acme" || q.Get("prompt") != "consent" {
		t.Errorf("URL = %s, want the endpoint's own query and customConfig kept", auth.RedirectTo)
	}
	s := auth.Session
	if s["state"] != "STATE-1" || s["redirectUri"] != testRedirectURI || s["issuer"] != "https://id.example.com" || len(s["codeVerifier"]) < 43 {
		t.Errorf("session = %v", s)
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("code_challenge") == s["codeVerifier"] {
		t.Errorf("PKCE parameters = %q %q", q.Get("code_challenge_method"), q.Get("code_challenge"))
	}

	again, _ := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: testRedirectURI, State: "STATE-2"})
	if again.Session["codeVerifier"] == s["codeVerifier"] {
		t.Error("two sign-ins share a PKCE verifier")
	}
}

func TestAuthorizationURIWithoutPKCE(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(map[string]any{"pkce": "none"}))
	auth, err := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: testRedirectURI, State: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(auth.RedirectTo, "code_challenge") || auth.Session["codeVerifier"] != "" {
		t.Errorf("PKCE sent though turned off: %s %v", auth.RedirectTo, auth.Session)
	}
}

func TestAuthorizationURIRequestChecks(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(nil))
	for _, req := range []sdk.AuthorizationRequest{
		{RedirectURI: "/callback", State: "s"},
		{RedirectURI: "", State: "s"},
		{RedirectURI: testRedirectURI, State: ""},
	} {
		_, err := connector{}.AuthorizationURI(context.Background(), in, req)
		wantCode(t, err, sdk.CodeInvalidRequestParameters)
	}
}

func TestSignIn(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(nil))
	auth, res, err := signIn(t, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := res.UserInfo
	if u.ID != "u-1" || *u.Name != "Ann" || *u.Avatar != "https://a/1.png" || *u.Email != "ann@example.com" || *u.Phone != "+100" {
		t.Errorf("profile = %+v", u)
	}
	if !json.Valid(u.RawData) || !strings.Contains(string(u.RawData), `"id":"u-1"`) {
		t.Errorf("rawData = %s", u.RawData)
	}
	if res.Tokens != nil {
		t.Errorf("tokens returned without storeTokens: %+v", res.Tokens)
	}
	tr := p.Requests("/token")
	if len(tr) != 1 {
		t.Fatalf("%d token requests", len(tr))
	}
	if tr[0].Form.Get("redirect_uri") != testRedirectURI || tr[0].Form.Get("code_verifier") != auth.Session["codeVerifier"] || tr[0].Form.Get("code") != "CODE-1" {
		t.Errorf("token request = %v, want the session's redirect URI and verifier", tr[0].Form)
	}
	ur := p.Requests("/userinfo")
	if len(ur) != 1 || ur[0].Method != http.MethodGet || ur[0].Header.Get("Authorization") != "Bearer AT-1" {
		t.Errorf("userinfo requests = %+v", ur)
	}
	if ua := ur[0].Header.Get("User-Agent"); !strings.HasPrefix(ua, "idplug-oauth2/") {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestStoreTokens(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(map[string]any{"storeTokens": true}))
	before := time.Now()
	_, res, err := signIn(t, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := res.Tokens
	if tok == nil || tok.AccessToken != "AT-1" || tok.RefreshToken != "RT-1" || tok.TokenType != "Bearer" || tok.Scope != "openid" {
		t.Fatalf("tokens = %+v", tok)
	}
	if tok.ExpiresAt.Before(before.Add(time.Hour)) || tok.ExpiresAt.After(time.Now().Add(time.Hour)) {
		t.Errorf("expiresAt = %v, want an hour after the request", tok.ExpiresAt)
	}
}

// TestGitHubStyleProvider: a form-encoded token answer, a numeric id, POST userinfo.
func TestGitHubStyleProvider(t *testing.T) {
	p := newStubProvider(t)
	p.Handle("/token", stubprovider.Reply(200, "application/x-www-form-urlencoded; charset=utf-8", "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cuser&token_type=bearer"))
	p.Handle("/userinfo", stubprovider.Reply(200, "application/json; charset=utf-8", `{"login":"octocat","id":12345678901,"avatar_url":"https://avatars/1","name":null,"email":""}`))
	in := mustParse(t, p.config(map[string]any{
		"profileMap":     map[string]any{"id": "id", "name": "name", "avatar": "avatar_url", "email": "email"},
		"userInfoMethod": "POST",
		"storeTokens":    true,
	}))
	_, res, err := signIn(t, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := res.UserInfo
	if u.ID != "12345678901" || u.Name != nil || u.Email == nil || *u.Email != "" || *u.Avatar != "https://avatars/1" {
		t.Errorf("profile = id %q name %v email %v", u.ID, u.Name, u.Email)
	}
	if res.Tokens.Scope != "repo,user" || res.Tokens.TokenType != "bearer" {
		t.Errorf("tokens = %+v", res.Tokens)
	}
	if ur := p.Requests("/userinfo"); ur[0].Method != http.MethodPost || ur[0].Header.Get("Authorization") != "Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a" {
		t.Errorf("userinfo request = %+v", ur[0])
	}
}

func TestWrappedUserInfo(t *testing.T) {
	p := newStubProvider(t)
	p.Handle("/userinfo", stubprovider.Reply(200, "application/json", `{"code":0,"data":{"user":{"id":"w-1","nick":"Wes","emails":[{"value":"w@example.com"}]}}}`))
	in := mustParse(t, p.config(map[string]any{"profileMap": map[string]any{"id": "data.user.id", "name": "data.user.nick", "email": "data.user.emails.0.value"}}))
	_, res, err := signIn(t, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := res.UserInfo; u.ID != "w-1" || *u.Name != "Wes" || *u.Email != "w@example.com" {
		t.Errorf("profile = %+v", u)
	}
}

func TestSignInFailures(t *testing.T) {
	tests := []struct {
		name      string
		config    map[string]any
		token     http.Handler
		userInfo  http.Handler
		edit      func(map[string]string, sdk.Session)
		code      sdk.ErrorCode
		says      string
		exchanged int // token requests expected
	}{
		{name: "provider error in the callback", edit: func(c map[string]string, _ sdk.Session) {
			delete(c, "code")
			c["error"], c["error_description"] = "access_denied", "The user cancelled"
		}, code: sdk.CodeAuthorizationFailed, says: "The user cancelled"},
		{name: "state mismatch", edit: func(c map[string]string, _ sdk.Session) { c["state"] = "STATE-X" }, code: sdk.CodeInvalidRequestParameters, says: "state mismatch"},
		{name: "no state", edit: func(c map[string]string, _ sdk.Session) { delete(c, "state") }, code: sdk.CodeInvalidRequestParameters, says: "state mismatch"},
		{name: "no code", edit: func(c map[string]string, _ sdk.Session) { delete(c, "code") }, code: sdk.CodeInsufficientRequestParameters, says: "no code"},
		{name: "iss missing", config: map[string]any{"issuer": "https://id.example.com"}, code: sdk.CodeInvalidRequestParameters, says: "no iss"},
		{name: "iss wrong", config: map[string]any{"issuer": "https://id.example.com"}, edit: func(c map[string]string, _ sdk.Session) { c["iss"] = "https://evil.example" }, code: sdk.CodeInvalidRequestParameters, says: "RFC 9207"},
		{name: "issuer changed since the start", config: map[string]any{"issuer": "https://id.example.com"}, edit: func(c map[string]string, s sdk.Session) {
			c["iss"] = "https://id.example.com"
			s["issuer"] = "https://old.example.com"
		}, code: sdk.CodeInvalidRequestParameters, says: "start the sign-in again"},
		{name: "session without redirect URI", edit: func(_ map[string]string, s sdk.Session) { delete(s, "redirectUri") }, code: sdk.CodeInvalidRequestParameters, says: "redirect URI"},
		{name: "code refused", token: stubprovider.Reply(400, "application/json", `{"error":"invalid_grant","error_description":"code expired"}`),
			code: sdk.CodeSocialAuthCodeInvalid, says: "code expired", exchanged: 1},
		{name: "client refused", token: stubprovider.Reply(401, "application/json", `{"error":"invalid_client"}`), code: sdk.CodeInvalidConfig, says: "clientId", exchanged: 1},
		{name: "HTML error page", token: stubprovider.Reply(400, "text/html", "<html><h1>Bad request</h1></html>"), code: sdk.CodeInvalidResponse, says: "HTTP 400", exchanged: 1},
		{name: "token endpoint down", token: stubprovider.Reply(503, "text/html", "<h1>maintenance</h1>"), code: sdk.CodeProviderUnavailable, says: "HTTP 503", exchanged: 1},
		{name: "5 MB token answer", token: stubprovider.Reply(200, "application/json", `{"access_token":"AT-1","x":"`+strings.Repeat("a", 5<<20)+`"}`), code: sdk.CodeInvalidResponse, says: "1 MiB", exchanged: 1},
		{name: "access token refused", userInfo: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(401)
		}), code: sdk.CodeSocialAccessTokenInvalid, says: "refused the access token", exchanged: 1},
		{name: "userinfo not an object", userInfo: stubprovider.Reply(200, "application/json", `["u-1"]`), code: sdk.CodeInvalidResponse, says: "not a JSON object", exchanged: 1},
		{name: "missing id names the path", config: map[string]any{"profileMap": map[string]any{"id": "data.user.id"}}, code: sdk.CodeInvalidResponse, says: `"data.user.id"`, exchanged: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newStubProvider(t)
			if tt.token != nil {
				p.Handle("/token", tt.token)
			}
			if tt.userInfo != nil {
				p.Handle("/userinfo", tt.userInfo)
			}
			in := mustParse(t, p.config(tt.config))
			_, _, err := signIn(t, in, tt.edit)
			e := wantCode(t, err, tt.code)
			if !strings.Contains(e.Message, tt.says) {
				t.Errorf("message %q does not say %q", e.Message, tt.says)
			}
			wantNoSecrets(t, err)
			if n := len(p.Requests("/token")); n != tt.exchanged {
				t.Errorf("%d token requests, want %d", n, tt.exchanged)
			}
		})
	}
}

func TestTokenErrorBodyIsKeptInTheDetails(t *testing.T) {
	p := newStubProvider(t)
	p.Handle("/token", stubprovider.Reply(400, "application/json", `{"error":"invalid_grant","error_description":"code expired","error_uri":"https://id.example.com/e"}`))
	_, _, err := signIn(t, mustParse(t, p.config(nil)), nil)
	e := wantCode(t, err, sdk.CodeSocialAuthCodeInvalid)
	want := map[string]any{"status": 400, "error": "invalid_grant", "error_description": "code expired", "error_uri": "https://id.example.com/e"}
	for k, v := range want {
		if e.Details[k] != v {
			t.Errorf("details[%s] = %v, want %v", k, e.Details[k], v)
		}
	}
}

func TestProviderThatNeverAnswers(t *testing.T) {
	p := newStubProvider(t)
	release := make(chan struct{})
	defer close(release) // before the server closes: its handler must return
	// The stub records a request before its handler runs; the handler says it
	// is there. The client gives up after 1s, maybe before the server's
	// goroutine got that far: count once it has.
	arrived := make(chan struct{}, 1)
	p.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default: // a second request: the count below says so
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	// 1s: time enough on a loaded machine to connect and send.
	in := mustParse(t, p.config(map[string]any{"requestTimeout": "1s"}))
	_, _, err := signIn(t, in, nil)
	e := wantCode(t, err, sdk.CodeProviderTimeout)
	if !strings.Contains(e.Message, "1s") {
		t.Errorf("message %q does not give the timeout", e.Message)
	}
	wantNoSecrets(t, err)
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the code never reached the provider")
	}
	if n := len(p.Requests("/token")); n != 1 {
		t.Errorf("the code was sent %d times", n)
	}
}

func TestRefresh(t *testing.T) {
	p := newStubProvider(t)
	p.Handle("/token", stubprovider.Reply(200, "application/json", `{"access_token":"AT-2","expires_in":"60"}`))
	in := mustParse(t, p.config(map[string]any{"tokenEndpointAuthMethod": "client_secret_basic", "customConfig": map[string]any{"tenant": "acme"}}))
	tok, err := connector{}.Refresh(context.Background(), in, "RT-1")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "AT-2" || tok.RefreshToken != "RT-1" || tok.ExpiresAt.IsZero() {
		t.Errorf("tokens = %+v, want the old refresh token kept", tok)
	}
	r := p.Requests("/token")[0]
	if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != "RT-1" || r.Form.Get("tenant") != "acme" || r.Form.Has("client_secret") {
		t.Errorf("refresh request = %v", r.Form)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		t.Errorf("refresh did not use the configured client authentication")
	}

	p.Handle("/token", stubprovider.Reply(400, "application/json", `{"error":"invalid_grant"}`))
	_, err = connector{}.Refresh(context.Background(), in, "RT-1")
	wantCode(t, err, sdk.CodeSocialAccessTokenInvalid)
	wantNoSecrets(t, err)
}

func TestPerRequestScopeReplacesTheConfiguredOne(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(map[string]any{"scope": "openid profile"}))
	for _, tc := range []struct{ asked, want string }{
		{"", "openid profile"},
		{"openid email", "openid email"},
	} {
		auth, err := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: testRedirectURI, State: "s", Scope: tc.asked})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(auth.RedirectTo)
		if got := u.Query().Get("scope"); got != tc.want {
			t.Errorf("asked %q: scope = %q, want %q", tc.asked, got, tc.want)
		}
	}
}
