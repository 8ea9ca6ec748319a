package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/stubprovider"
	"github.com/idplug/idplug/sdk"
)

const callbackURL = "https://idplug.example/callback/social"

// codes hands out authorization codes and takes each back once.
type codes struct {
	mu sync.Mutex
	n  int
	m  map[string]bool
}

func (c *codes) issue() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]bool{}
	}
	c.n++
	code := fmt.Sprintf("good-code-%d-7f3a9c", c.n)
	c.m[code] = true
	return code
}

func (c *codes) take(code string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := c.m[code]
	delete(c.m, code)
	return ok
}

// provider is one Logto connector under test and the stub routes of its provider.
type provider struct {
	name      string   // the connector's file name: idplug-connector-logto-<name>
	pluginID  string   // logto-<Logto metadata id>
	hosts     []string // the https hosts the connector calls
	secret    string   // the configuration's secret, which must never come back
	config    map[string]any
	routes    func(s *stub, c *codes)
	tokenPath string // "" when the provider has no token endpoint (Apple)
	userPath  string
	// callback finishes the browser's part: what the provider sends back.
	callback func(t *testing.T, auth *url.URL, c *codes) map[string]string
	want     sdk.UserInfo
	check    func(t *testing.T, s *stub) // more checks after a sign-in
	// badCodeCode is the code for a refused authorization code when it is not
	// social_auth_code_invalid, and why.
	badCodeCode sdk.ErrorCode
	badCodeWhy  string
}

func providers(t *testing.T) []provider {
	appleKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return []provider{
		{
			name: "github", pluginID: "logto-github-universal", hosts: []string{"github.com", "api.github.com"},
			secret: "gh-secret-3b1f0e", config: map[string]any{"clientId": "gh-client", "clientSecret": "gh-secret-3b1f0e"},
			tokenPath: "/login/oauth/access_token", userPath: "/user",
			routes: func(s *stub, c *codes) {
				s.HandleFunc("/login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
					if r.Form.Get("client_secret") != "gh-secret-3b1f0e" || !c.take(r.Form.Get("code")) {
						stubprovider.WriteJSON(w, 200, map[string]any{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
						return
					}
					stubprovider.WriteJSON(w, 200, map[string]any{"access_token": "gho_access", "scope": "read:user,user:email", "token_type": "bearer"})
				})
				s.HandleFunc("/user", bearer("gho_access", map[string]any{"id": 583231, "login": "octocat", "name": "The Octocat", "avatar_url": "https://avatars.githubusercontent.com/u/583231", "email": nil}))
				s.HandleFunc("/user/emails", bearer("gho_access", []any{
					map[string]any{"email": "old@example.com", "primary": false, "verified": true, "visibility": nil},
					map[string]any{"email": "octocat@github.com", "primary": true, "verified": true, "visibility": "private"},
				}))
			},
			callback: codeCallback,
			want:     sdk.UserInfo{ID: "583231", Name: sdk.String("The Octocat"), Email: sdk.String("octocat@github.com"), Avatar: sdk.String("https://avatars.githubusercontent.com/u/583231")},
		},
		{
			name: "google", pluginID: "logto-google-universal", hosts: []string{"oauth2.googleapis.com", "openidconnect.googleapis.com"},
			secret: "GOCSPX-secret-9d2c", config: map[string]any{"clientId": "g-client.apps.googleusercontent.com", "clientSecret": "GOCSPX-secret-9d2c"},
			tokenPath: "/token", userPath: "/v1/userinfo",
			routes: func(s *stub, c *codes) {
				s.HandleFunc("/token", tokenRoute(c, "GOCSPX-secret-9d2c", "ya29.google-access", stubprovider.Reply(400, "application/json", `{"error":"invalid_grant","error_description":"Bad Request"}`)))
				s.HandleFunc("/v1/userinfo", bearer("ya29.google-access", map[string]any{"sub": "110169484474386276334", "name": "Gita Google", "picture": "https://lh3.googleusercontent.com/a/x", "email": "gita@gmail.com", "email_verified": true}))
			},
			callback: codeCallback,
			want:     sdk.UserInfo{ID: "110169484474386276334", Name: sdk.String("Gita Google"), Email: sdk.String("gita@gmail.com"), Avatar: sdk.String("https://lh3.googleusercontent.com/a/x")},
			check: func(t *testing.T, s *stub) {
				r, ok := s.Last("/token")
				if !ok || r.Form.Get("redirect_uri") != callbackURL || r.Form.Get("grant_type") != "authorization_code" {
					t.Errorf("Google's token request = %v; want redirect_uri %s from the session", r.Form, callbackURL)
				}
			},
		},
		{
			name: "discord", pluginID: "logto-discord-universal", hosts: []string{"discord.com"},
			secret: "discord-secret-55aa", config: map[string]any{"clientId": "d-client", "clientSecret": "discord-secret-55aa"},
			tokenPath: "/api/v10/oauth2/token", userPath: "/api/v10/users/@me",
			routes: func(s *stub, c *codes) {
				s.HandleFunc("/api/v10/oauth2/token", tokenRoute(c, "discord-secret-55aa", "discord-access", stubprovider.Reply(400, "application/json", `{"error":"invalid_grant","error_description":"Invalid \"code\" in request."}`)))
				s.HandleFunc("/api/v10/users/@me", bearer("discord-access", map[string]any{"id": "80351110224678912", "username": "Nelly", "avatar": "8342729096ea3675442027381ff50dfe", "email": "nelly@discord.com", "verified": true}))
			},
			callback: codeCallback,
			want:     sdk.UserInfo{ID: "80351110224678912", Name: sdk.String("Nelly"), Email: sdk.String("nelly@discord.com"), Avatar: sdk.String("https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe")},
			check: func(t *testing.T, s *stub) {
				r, ok := s.Last("/api/v10/oauth2/token")
				if !ok || r.Form.Get("redirect_uri") != callbackURL {
					t.Errorf("Discord's token request = %v; want redirect_uri %s from the session", r.Form, callbackURL)
				}
			},
		},
		{
			name: "wechat-web", pluginID: "logto-wechat-web", hosts: []string{"api.weixin.qq.com"},
			secret: "wx-app-secret-c0ffee", config: map[string]any{"appId": "wx-app", "appSecret": "wx-app-secret-c0ffee"},
			tokenPath: "/sns/oauth2/access_token", userPath: "/sns/userinfo",
			routes: func(s *stub, c *codes) {
				s.HandleFunc("/sns/oauth2/access_token", func(w http.ResponseWriter, r *http.Request) {
					q := r.URL.Query()
					if q.Get("secret") != "wx-app-secret-c0ffee" || !c.take(q.Get("code")) {
						stubprovider.WriteJSON(w, 200, map[string]any{"errcode": 40029, "errmsg": "invalid code"})
						return
					}
					stubprovider.WriteJSON(w, 200, map[string]any{"access_token": "wx-access", "expires_in": 7200, "refresh_token": "wx-refresh", "openid": "oOPENID123", "scope": "snsapi_login", "unionid": "uUNIONID456"})
				})
				s.HandleFunc("/sns/userinfo", func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("access_token") != "wx-access" {
						stubprovider.WriteJSON(w, 200, map[string]any{"errcode": 40001, "errmsg": "invalid credential"})
						return
					}
					stubprovider.WriteJSON(w, 200, map[string]any{"openid": "oOPENID123", "nickname": "微信用户", "headimgurl": "https://thirdwx.qlogo.cn/x/132", "unionid": "uUNIONID456"})
				})
			},
			callback: codeCallback,
			want:     sdk.UserInfo{ID: "uUNIONID456", Name: sdk.String("微信用户"), Avatar: sdk.String("https://thirdwx.qlogo.cn/x/132")},
		},
		{
			name: "facebook", pluginID: "logto-facebook-universal", hosts: []string{"graph.facebook.com"},
			secret: "fb-secret-0a0b0c", config: map[string]any{"clientId": "fb-client", "clientSecret": "fb-secret-0a0b0c"},
			tokenPath: "/v13.0/oauth/access_token", userPath: "/v13.0/me",
			badCodeCode: sdk.CodeInvalidResponse,
			badCodeWhy:  "Facebook answers a refused code with a Graph API error object (OAuthException, code 100) that does not tell it from other bad requests",
			routes: func(s *stub, c *codes) {
				s.HandleFunc("/v13.0/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
					q := r.URL.Query()
					if q.Get("client_secret") != "fb-secret-0a0b0c" || !c.take(q.Get("code")) {
						stubprovider.WriteJSON(w, 400, map[string]any{"error": map[string]any{"message": "Invalid verification code format.", "type": "OAuthException", "code": 100}})
						return
					}
					stubprovider.WriteJSON(w, 200, map[string]any{"access_token": "fb-access", "token_type": "bearer", "expires_in": 5183944})
				})
				s.HandleFunc("/v13.0/me", bearer("fb-access", map[string]any{"id": "10158000000000001", "name": "Fay Book", "email": "fay@example.com",
					"picture": map[string]any{"data": map[string]any{"url": "https://platform-lookaside.fbsbx.com/x"}}}))
			},
			callback: codeCallback,
			want:     sdk.UserInfo{ID: "10158000000000001", Name: sdk.String("Fay Book"), Email: sdk.String("fay@example.com"), Avatar: sdk.String("https://platform-lookaside.fbsbx.com/x")},
			check: func(t *testing.T, s *stub) {
				r, ok := s.Last("/v13.0/oauth/access_token")
				if !ok || r.Query.Get("redirect_uri") != callbackURL {
					t.Errorf("Facebook's token request = %v; want redirect_uri %s from the session", r.Query, callbackURL)
				}
			},
		},
		{
			name: "apple", pluginID: "logto-apple-universal", hosts: []string{"appleid.apple.com"},
			config:   map[string]any{"clientId": "com.example.web"},
			userPath: "/auth/keys",
			routes: func(s *stub, _ *codes) {
				s.HandleFunc("/auth/keys", func(w http.ResponseWriter, _ *http.Request) {
					stubprovider.WriteJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &appleKey.PublicKey, KeyID: "apple-1", Algorithm: "RS256", Use: "sig"}}})
				})
			},
			callback: func(t *testing.T, auth *url.URL, _ *codes) map[string]string {
				return map[string]string{
					"state":    auth.Query().Get("state"),
					"code":     "apple-code",
					"id_token": appleIDToken(t, appleKey, "com.example.web", auth.Query().Get("nonce")),
					"user":     `{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"ada@privaterelay.appleid.com"}`,
				}
			},
			want: sdk.UserInfo{ID: "001234.5f6e7d8c.0420", Name: sdk.String("Ada Lovelace"), Email: sdk.String("ada@privaterelay.appleid.com")},
		},
	}
}

func codeCallback(_ *testing.T, auth *url.URL, c *codes) map[string]string {
	return map[string]string{"state": auth.Query().Get("state"), "code": c.issue()}
}

// tokenRoute is a form-posted OAuth 2.0 token endpoint.
func tokenRoute(c *codes, secret, access string, bad stubprovider.Answer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Form.Get("client_secret") != secret || !c.take(r.Form.Get("code")) {
			bad.ServeHTTP(w, r)
			return
		}
		stubprovider.WriteJSON(w, 200, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3599, "scope": "openid email profile"})
	}
}

func bearer(token string, body any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			stubprovider.WriteJSON(w, 401, map[string]any{"message": "Bad credentials"})
			return
		}
		stubprovider.WriteJSON(w, 200, body)
	}
}

func appleIDToken(t *testing.T, key *rsa.PrivateKey, aud, nonce string) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "apple-1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": "https://appleid.apple.com", "aud": aud, "sub": "001234.5f6e7d8c.0420",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "nonce": nonce,
		"email": "ada@privaterelay.appleid.com", "email_verified": true,
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// providerNamed is the provider of providers(t) with name.
func providerNamed(t *testing.T, name string) provider {
	t.Helper()
	for _, p := range providers(t) {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no provider %q", name)
	return provider{}
}

// TestProvidersSignIn signs in through the host with Logto's GitHub, Google, Discord, Facebook,
// WeChat and Apple connectors, unchanged, against stubs at their providers' real paths.
func TestProvidersSignIn(t *testing.T) {
	for _, p := range providers(t) {
		t.Run(p.name, func(t *testing.T) {
			h, s, c := startProvider(t, p)
			ctx := context.Background()
			auth, callback := begin(t, h, p, c, "st-"+p.name+"-1")
			// A redirect URI smuggled into the callback is not the one the token request
			// carries: the session's is (checked by p.check).
			callback["redirectUri"] = "https://attacker.example/callback"
			res, err := h.UserInfo(ctx, "social", auth.Session, callback)
			if err != nil {
				t.Fatalf("UserInfo: %v", err)
			}
			got := res.UserInfo
			if got.ID != p.want.ID || !same(got.Name, p.want.Name) || !same(got.Email, p.want.Email) || !same(got.Avatar, p.want.Avatar) || len(got.RawData) == 0 {
				t.Errorf("profile = %s; want %s", show(got), show(p.want))
			}
			if p.check != nil {
				p.check(t, s)
			}
		})
	}
}

func startProvider(t *testing.T, p provider) (*host.Host, *stub, *codes) {
	t.Helper()
	s := newStub(t)
	c := &codes{}
	p.routes(s, c)
	h := openHost(t, folder(t, s.hosts(p.hosts...), p.name))
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "social", Plugin: p.pluginID, Config: mustJSON(t, p.config)}}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return h, s, c
}

// begin asks for the authorization URL and plays the provider's part.
func begin(t *testing.T, h *host.Host, p provider, c *codes, state string) (*sdk.Authorization, map[string]string) {
	t.Helper()
	auth, err := h.AuthorizationURI(context.Background(), "social", callbackURL, state)
	if err != nil {
		t.Fatalf("AuthorizationURI: %v", err)
	}
	u, err := url.Parse(auth.RedirectTo)
	if err != nil || u.Query().Get("state") != state {
		t.Fatalf("authorization URL %s does not carry the state", auth.RedirectTo)
	}
	return auth, p.callback(t, u, c)
}

// TestAppleRefusesAnotherNonce: an ID token minted for another sign-in is refused.
func TestAppleRefusesAnotherNonce(t *testing.T) {
	apple := providerNamed(t, "apple")
	h, _, c := startProvider(t, apple)
	auth, callback := begin(t, h, apple, c, "st-apple-nonce")
	other, _ := begin(t, h, apple, c, "st-apple-other")
	_, err := h.UserInfo(context.Background(), "social", other.Session, map[string]string{
		"state": "st-apple-other", "code": "apple-code", "id_token": callback["id_token"],
	})
	wantCode(t, "an ID token with another flow's nonce", err, sdk.CodeSocialIDTokenInvalid)
	if _, err := h.UserInfo(context.Background(), "social", auth.Session, callback); err != nil {
		t.Errorf("the right nonce: %v", err)
	}
}

// TestProvidersErrors: every way a sign-in fails gets idplug's code, and no message
// or detail carries the secret, the code or a query string.
func TestProvidersErrors(t *testing.T) {
	for _, p := range providers(t) {
		t.Run(p.name, func(t *testing.T) {
			h, s, c := startProvider(t, p)
			ctx := context.Background()
			n := 0
			try := func(what string, callback func(map[string]string) map[string]string, want sdk.ErrorCode) {
				t.Helper()
				n++
				state := fmt.Sprintf("st-%s-%d", p.name, n)
				auth, cb := begin(t, h, p, c, state)
				cb = callback(cb)
				_, err := h.UserInfo(ctx, "social", auth.Session, cb)
				wantCode(t, what, err, want)
				noLeak(t, what, err, p.secret, cb)
			}
			same := func(cb map[string]string) map[string]string { return cb }

			s.failAt(p.userPath, 503, `{"error":"temporarily_unavailable"}`)
			if p.tokenPath != "" {
				s.ClearOverrides()
				s.failAt(p.tokenPath, 503, "")
			}
			try("the provider answers 503", same, sdk.CodeProviderUnavailable)
			s.ClearOverrides()

			if p.tokenPath != "" {
				want := sdk.CodeSocialAuthCodeInvalid
				if p.badCodeCode != "" {
					t.Logf("a refused code: want %s: %s", p.badCodeCode, p.badCodeWhy)
					want = p.badCodeCode
				}
				try("a code the provider did not issue", func(cb map[string]string) map[string]string {
					cb["code"] = "made-up-code-1c0de"
					return cb
				}, want)
				s.failAt(p.userPath, 401, `{"message":"Bad credentials"}`)
				try("userinfo answers 401", same, sdk.CodeSocialAccessTokenInvalid)
				s.ClearOverrides()
			} else {
				try("an ID token that does not verify", func(cb map[string]string) map[string]string {
					cb["id_token"] = cb["id_token"][:len(cb["id_token"])-8] + "AAAAAAAA"
					return cb
				}, sdk.CodeSocialIDTokenInvalid)
			}
			try("error=access_denied", func(cb map[string]string) map[string]string {
				return map[string]string{"state": cb["state"], "error": "access_denied", "error_description": "denied " + cb["state"]}
			}, sdk.CodeAuthorizationFailed)
			try("another flow's state", func(cb map[string]string) map[string]string {
				cb["state"] = "st-someone-else"
				return cb
			}, sdk.CodeInvalidRequestParameters)
			try("a callback without code", func(cb map[string]string) map[string]string {
				return map[string]string{"state": cb["state"]}
			}, sdk.CodeInsufficientRequestParameters)

			// A bad configuration: field errors that do not repeat the values.
			err := h.Configure(ctx, []host.InstanceConfig{{ID: "social", Plugin: p.pluginID, Config: mustJSON(t, badConfig(p))}})
			var ve *host.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Configure(bad) = %v; want field errors", err)
			}
			noLeak(t, "Configure(bad)", err, "bad-value-77", nil)
			if !strings.Contains(err.Error(), "unknownKey: unknown field") {
				t.Errorf("Configure(bad) = %v; want the unknown key named", err)
			}
		})
	}
}

// badConfig is p's configuration with an unknown key and every string a number or a
// value of the wrong kind.
func badConfig(p provider) map[string]any {
	bad := map[string]any{"unknownKey": "bad-value-77"}
	for k := range p.config {
		bad[k] = 77
	}
	return bad
}

func wantCode(t *testing.T, what string, err error, want sdk.ErrorCode) {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: err = %v; want code %s", what, err, want)
		return
	}
	if e.Code != want {
		t.Errorf("%s: code %s (%s, %v); want %s", what, e.Code, e.Message, e.Details, want)
	}
}

// noLeak fails when err's text or details carry the secret, a callback value or a '?'.
func noLeak(t *testing.T, what string, err error, secret string, callback map[string]string) {
	t.Helper()
	if err == nil {
		return
	}
	text := err.Error()
	var e *sdk.Error
	if errors.As(err, &e) {
		d, _ := json.Marshal(e.Details)
		text += " " + string(d)
	}
	var ve *host.ValidationError
	if errors.As(err, &ve) {
		d, _ := json.Marshal(ve)
		text += " " + string(d)
	}
	if secret != "" && strings.Contains(text, secret) {
		t.Errorf("%s: the error carries the secret: %s", what, text)
	}
	for k, v := range callback {
		if len(v) >= 6 && k != "error" && strings.Contains(text, v) {
			t.Errorf("%s: the error carries the callback's %s: %s", what, k, text)
		}
	}
	if strings.Contains(text, "?") {
		t.Errorf("%s: the error carries a '?' (a query string): %s", what, text)
	}
}

func same(a, b *string) bool {
	if b == nil {
		return true
	}
	return a != nil && *a == *b
}

func show(u sdk.UserInfo) string {
	u.RawData = nil
	b, _ := json.Marshal(u)
	return string(b)
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAnswerThatGrowsPastTheLine: a provider's answer under the body cap can come
// back from Node several times larger (the profile twice in the answer, each byte
// that is not UTF-8 as three). Past the plugin's line limit it ended the plugin's
// reading of Node, failed every call in flight (other instances' too) and had Node
// killed; the bridge now answers that call with an error of its own.
func TestAnswerThatGrowsPastTheLine(t *testing.T) {
	github := providerNamed(t, "github")
	h, s, c := startProvider(t, github)
	ctx := context.Background()
	s.HandleFunc("/user", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1,"name":"`))
		_, _ = w.Write(bytes.Repeat([]byte{0xff}, 3<<20))
		_, _ = w.Write([]byte(`"}`))
	})
	auth, cb := begin(t, h, github, c, "st-grows")
	_, err := h.UserInfo(ctx, "social", auth.Session, cb)
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeInvalidResponse || !strings.Contains(e.Message, "over the bridge's limit") {
		t.Fatalf("err = %v, want the bridge's invalid_response for that call", err)
	}
	noLeak(t, "an answer past the line", err, github.secret, cb)
	github.routes(s, c)
	auth, cb = begin(t, h, github, c, "st-after-grows")
	if _, err := h.UserInfo(ctx, "social", auth.Session, cb); err != nil {
		t.Fatalf("the sign-in after: %v", err)
	}
}

// TestHugeAnswer: a provider that answers without end gets an error for that sign-in,
// and the connector goes on serving.
func TestHugeAnswer(t *testing.T) {
	github := providerNamed(t, "github")
	h, s, c := startProvider(t, github)
	ctx := context.Background()
	s.HandleFunc("/user", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1,"name":"`))
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range 160 { // 10 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}`))
	})
	auth, cb := begin(t, h, github, c, "st-huge")
	if _, err := h.UserInfo(ctx, "social", auth.Session, cb); err == nil {
		t.Fatal("a 10 MiB profile was accepted")
	} else {
		noLeak(t, "a huge answer", err, github.secret, cb)
	}
	github.routes(s, c)
	auth, cb = begin(t, h, github, c, "st-after-huge")
	if _, err := h.UserInfo(ctx, "social", auth.Session, cb); err != nil {
		t.Fatalf("the sign-in after a huge answer: %v", err)
	}
}

// TestChunkedAnswerPastTheBodyCap: the bridge caps every provider answer at 4 MiB
// whatever the connector's HTTP client. For node:https (got: the Google, Discord,
// Facebook, Azure AD and WeChat connectors) only a Content-Length over the cap was
// refused, and a chunked answer was read whole into Node's memory. Both
// clients now stop at the cap, and the sign-in gets the same invalid_response.
func TestChunkedAnswerPastTheBodyCap(t *testing.T) {
	for _, name := range []string{"github", "discord"} { // fetch (ky), node:https (got)
		t.Run(name, func(t *testing.T) {
			p := providerNamed(t, name)
			h, s, c := startProvider(t, p)
			s.HandleFunc(p.userPath, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":"1","login":"x","username":"`))
				chunk := []byte(strings.Repeat("x", 64<<10))
				for range 160 { // 10 MiB, chunked (no Content-Length)
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
				_, _ = w.Write([]byte(`"}`))
			})
			auth, cb := begin(t, h, p, c, "st-cap")
			_, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
			t.Logf("%v", err)
			wantCode(t, "a 10 MiB chunked answer", err, sdk.CodeInvalidResponse)
			if err == nil || !strings.Contains(err.Error(), "larger than 4194304 bytes") {
				t.Fatalf("a 10 MiB chunked answer was not refused at the bridge's 4 MiB cap: %v", err)
			}
			noLeak(t, "a chunked answer past the cap", err, p.secret, cb)
		})
	}
}

// TestCompressedAnswerIsNotInflatedPastTheCap: got asked for gzip and inflated the
// answer where no count reached, so a few MiB of gzip could become gigabytes in
// Node. The bridge asks node:https answers for no content coding (the bytes it
// counts are then the body's) and refuses one that comes compressed anyway.
func TestCompressedAnswerIsNotInflatedPastTheCap(t *testing.T) {
	discord := providerNamed(t, "discord")
	h, s, c := startProvider(t, discord)
	var bomb bytes.Buffer // 64 MiB of one letter, some 64 KiB of gzip
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	_, _ = zw.Write([]byte(`{"id":"1","username":"`))
	chunk := []byte(strings.Repeat("x", 64<<10))
	for range 1024 {
		_, _ = zw.Write(chunk)
	}
	_, _ = zw.Write([]byte(`"}`))
	_ = zw.Close()
	s.HandleFunc(discord.userPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip") // whatever the request accepted
		_, _ = w.Write(bomb.Bytes())
	})
	auth, cb := begin(t, h, discord, c, "st-gzip")
	_, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
	wantCode(t, "a gzip answer of 64 MiB", err, sdk.CodeInvalidResponse)
	if err == nil || !strings.Contains(err.Error(), "compressed though the bridge asked for none") {
		t.Fatalf("a gzip answer inflating to 64 MiB was not refused: %v", err)
	}
	noLeak(t, "a compressed answer", err, discord.secret, cb)
	if r, ok := s.Last(discord.userPath); !ok || r.Header.Get("Accept-Encoding") != "identity" {
		t.Errorf("the user info request accepted %q; want identity only", r.Header.Get("Accept-Encoding"))
	}
}
