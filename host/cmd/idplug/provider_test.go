package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/testport"
	"golang.org/x/oauth2"
)

// The OpenID Provider, end to end: the real idplug binary in front of the real
// OpenID provider (through the oauth2 connector), and coreos/go-oidc with
// x/oauth2 as the relying party.

const (
	rpSecret   = "rp-secret-0123456789abcdef0123456789abcdef"
	rpCallback = "https://app.test/callback"
	rpLogout   = "https://app.test/signed-out"
)

type opEnv struct {
	idplug   *idplugProc
	issuer   string
	upstream *oidctest.Provider
	rp       *gooidc.Provider
	app      oauth2.Config
}

// startProvider runs idplug as an OpenID Provider with two connectors (acme,
// beta) against one upstream provider, and the clients app (confidential) and
// spa (public, acme only).
func startProvider(t *testing.T, extraClients ...map[string]any) *opEnv {
	t.Helper()
	port := testport.Free(t)
	public := "http://127.0.0.1:" + strconv.Itoa(port)
	upstream, upSecret := startUpstream(t, public)
	p := startIdplug(t, pluginFolder(t, "oauth2"), providerConfig(t, public, port, upstream, upSecret, "", extraClients...))
	return newOPEnv(t, p, public, upstream, nil)
}

// startUpstream is the provider idplug's connectors sign in at.
func startUpstream(t *testing.T, public string) (*oidctest.Provider, string) {
	upSecret := oidctest.NewClientSecret(t)
	upstream := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{
		ID: "idplug", Secret: upSecret, AuthMethod: "client_secret_basic",
		RedirectURIs: []string{public + "/callback/acme", public + "/callback/beta"},
	}}})
	return upstream, upSecret
}

// providerConfig is idplug's configuration as a provider; storeURL "" is the
// default SQLite file.
func providerConfig(t *testing.T, public string, port int, upstream *oidctest.Provider, upSecret, storeURL string, extraClients ...map[string]any) string {
	t.Helper()
	connector := func(id string) map[string]any {
		return map[string]any{"id": id, "plugin": "oauth2", "config": map[string]any{
			"authorizationEndpoint": upstream.AuthorizationEndpoint(), "tokenEndpoint": upstream.TokenEndpoint(),
			"userInfoEndpoint": upstream.UserinfoEndpoint(), "issuer": upstream.Issuer,
			"clientId": "idplug", "clientSecret": upSecret, "tokenEndpointAuthMethod": "client_secret_basic",
			"scope": "openid profile email", "profileMap": map[string]string{"id": "sub", "avatar": "picture"},
		}}
	}
	clients := append([]map[string]any{
		{"id": "app", "secret": rpSecret, "redirect_uris": []string{rpCallback}, "post_logout_redirect_uris": []string{rpLogout}},
		{"id": "spa", "public": true, "redirect_uris": []string{"http://127.0.0.1:3000/cb"}, "connectors": []string{"acme"}},
	}, extraClients...)
	doc := map[string]any{
		"listen": "127.0.0.1:" + strconv.Itoa(port), "public_url": public, "plugin_dir": "PLUGIN_DIR",
		"session_keys": []string{"${IDPLUG_SESSION_KEY}"}, "log_format": "json", "log_level": "debug",
		"connectors": []map[string]any{connector("acme"), connector("beta")},
		"provider":   map[string]any{"clients": clients},
	}
	if storeURL != "" {
		doc["store"] = map[string]any{"url": storeURL}
	}
	cfg, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(cfg)
}

// newOPEnv discovers the provider at public (through client, when set) and
// makes the app's relying party.
func newOPEnv(t *testing.T, p *idplugProc, public string, upstream *oidctest.Provider, client *http.Client) *opEnv {
	t.Helper()
	issuer := public + "/oidc"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if client != nil {
		ctx = gooidc.ClientContext(ctx, client)
	}
	rp, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &opEnv{idplug: p, issuer: issuer, upstream: upstream, rp: rp, app: oauth2.Config{
		ClientID: "app", ClientSecret: rpSecret, Endpoint: rp.Endpoint(), RedirectURL: rpCallback,
		Scopes: []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess},
	}}
}

// browser is a cookie-keeping client that stops at redirects.
type browser struct {
	http *http.Client
	// hosts are the hosts the last walk went through.
	hosts []string
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{http: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// walk follows redirects from start until one leaves for stopAt, and returns
// that URL; a page that is not a redirect is an error with its text.
func (b *browser) walk(t *testing.T, start, stopAt string) (*url.URL, error) {
	t.Helper()
	b.hosts = nil
	next := start
	for range 20 {
		resp, err := b.http.Get(next)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		u, _ := url.Parse(next)
		b.hosts = append(b.hosts, u.Host)
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return nil, fmt.Errorf("%s from %s: %s", resp.Status, u.Path, body)
		}
		loc, err := resp.Location()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(loc.String(), stopAt) {
			return loc, nil
		}
		next = loc.String()
	}
	return nil, errors.New("too many redirects")
}

func pkce() (verifier string, opts []oauth2.AuthCodeOption) {
	v := oauth2.GenerateVerifier()
	return v, []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
}

func random(t *testing.T) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signIn runs the code flow in b and returns the callback's parameters.
func (e *opEnv) signIn(t *testing.T, b *browser, state, nonce string, extra ...oauth2.AuthCodeOption) (url.Values, error) {
	t.Helper()
	// Two connectors: without a hint the chooser shows; pick acme by hint.
	opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.SetAuthURLParam("connector_id", "acme")}, extra...)
	cb, err := b.walk(t, e.app.AuthCodeURL(state, opts...), rpCallback)
	if err != nil {
		return nil, err
	}
	return cb.Query(), nil
}

func TestProviderSignInWithGoOIDC(t *testing.T) {
	e := startProvider(t)
	ctx := t.Context()
	b := newBrowser(t)
	state, nonce := random(t), random(t)
	verifier, challenge := pkce()
	q, err := e.signIn(t, b, state, nonce, challenge...)
	if err != nil {
		t.Fatalf("sign-in: %v\n%s", err, e.idplug.logs)
	}
	if q.Get("state") != state || q.Get("iss") != e.issuer || q.Get("code") == "" {
		t.Fatalf("callback = %v, want the state, iss %s and a code", q, e.issuer)
	}
	tok, err := e.app.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := e.rp.Verifier(&gooidc.Config{ClientID: "app"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims struct {
		Nonce     string `json:"nonce"`
		Name      string `json:"name"`
		Email     string `json:"email"`
		Connector string `json:"connector"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	want := oidctest.DefaultAccount()
	wantEmail := want.Claims["email"].(string)
	if claims.Nonce != nonce || claims.Connector != "acme" || claims.Email != wantEmail || idt.Subject == "" || idt.Subject == want.Sub {
		t.Errorf("claims = %+v sub %q; want the nonce, connector acme, %s, and a sub that is not the upstream id %q", claims, idt.Subject, wantEmail, want.Sub)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	t.Run("userinfo", func(t *testing.T) {
		info, err := e.rp.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != idt.Subject || info.Email != wantEmail {
			t.Fatalf("userinfo = %+v, %v", info, err)
		}
	})

	var rotated *oauth2.Token
	t.Run("refresh rotates", func(t *testing.T) {
		old := *tok
		old.Expiry = time.Now().Add(-time.Minute)
		rotated, err = e.app.TokenSource(ctx, &old).Token()
		if err != nil || rotated.RefreshToken == "" || rotated.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh = %v, %v; want a new refresh token", rotated, err)
		}
		if _, err := e.rp.UserInfo(ctx, oauth2.StaticTokenSource(rotated)); err != nil {
			t.Fatalf("userinfo with the refreshed token: %v", err)
		}
	})

	t.Run("single sign-on: a second request does not go to the upstream provider", func(t *testing.T) {
		v2, ch2 := pkce()
		q2, err := e.signIn(t, b, "s2", "n2", ch2...)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range b.hosts {
			if u, _ := url.Parse(e.upstream.Issuer); h == u.Host {
				t.Fatalf("went to the upstream provider again: %v", b.hosts)
			}
		}
		if _, err := e.app.Exchange(ctx, q2.Get("code"), oauth2.VerifierOption(v2)); err != nil {
			t.Fatalf("exchange after SSO: %v", err)
		}
	})

	t.Run("direct_sign_in goes straight to the connector of that target", func(t *testing.T) {
		v, ch := pkce()
		u, _ := url.Parse(e.app.AuthCodeURL("s", append(ch, gooidc.Nonce("n"))...))
		q := u.Query()
		q.Set("direct_sign_in", "social:beta")
		u.RawQuery = q.Encode()
		cb, err := newBrowser(t).walk(t, u.String(), rpCallback)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.app.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := e.rp.Verifier(&gooidc.Config{ClientID: "app"}).Verify(ctx, raw)
		var c struct {
			Connector string `json:"connector"`
		}
		if err != nil || idt.Claims(&c) != nil || c.Connector != "beta" {
			t.Fatalf("connector = %q (%v), want beta", c.Connector, err)
		}
		if idt.Subject == "" || idt.Subject == subjectOf(t, rawID) {
			t.Fatal("the same upstream user got the same sub through another connector target")
		}
	})

	t.Run("prompt=login signs in at the provider again", func(t *testing.T) {
		v3, ch3 := pkce()
		q3, err := e.signIn(t, b, "s3", "n3", append(ch3, oauth2.SetAuthURLParam("prompt", "login"))...)
		if err != nil {
			t.Fatal(err)
		}
		up, _ := url.Parse(e.upstream.Issuer)
		if !slices.Contains(b.hosts, up.Host) {
			t.Fatalf("prompt=login did not go to the upstream provider: %v", b.hosts)
		}
		tok3, err := e.app.Exchange(ctx, q3.Get("code"), oauth2.VerifierOption(v3))
		if err != nil {
			t.Fatal(err)
		}
		raw3, _ := tok3.Extra("id_token").(string)
		idt3, err := e.rp.Verifier(&gooidc.Config{ClientID: "app"}).Verify(ctx, raw3)
		if err != nil || !idt3.IssuedAt.After(idt.IssuedAt.Add(-time.Second)) || idt3.Subject != idt.Subject {
			t.Fatalf("after prompt=login: %v %v", idt3, err)
		}
	})

	t.Run("a refresh token used twice revokes the grant", func(t *testing.T) {
		if rotated == nil {
			t.Skip("no rotated token")
		}
		old := *tok
		old.Expiry = time.Now().Add(-time.Minute)
		if _, err := e.app.TokenSource(ctx, &old).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("the first refresh token again: %v, want invalid_grant", err)
		}
		if _, err := e.rp.UserInfo(ctx, oauth2.StaticTokenSource(rotated)); err == nil {
			t.Fatal("the grant's latest access token still works after the reuse")
		}
		next := *rotated
		next.Expiry = time.Now().Add(-time.Minute)
		if _, err := e.app.TokenSource(ctx, &next).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("the latest refresh token after the reuse: %v, want invalid_grant", err)
		}
	})

	t.Run("logout with id_token_hint", func(t *testing.T) {
		end := e.issuer + "/end_session?" + url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {rpLogout}, "state": {"bye"}}.Encode()
		back, err := b.walk(t, end, rpLogout)
		if err != nil || back.Query().Get("state") != "bye" {
			t.Fatalf("end_session = %v, %v", back, err)
		}
		// Signed out: prompt=none has nothing to go on.
		_, ch := pkce()
		q, err := e.signIn(t, b, "s3", "n3", append(ch, oauth2.SetAuthURLParam("prompt", "none"))...)
		if err != nil || q.Get("error") != "login_required" || q.Get("iss") != e.issuer {
			t.Fatalf("prompt=none after logout: %v %v", q, err)
		}
	})
}

// subjectOf reads the sub of a compact JWT without checking it.
func subjectOf(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

// flipChar changes one character in the middle of s.
func flipChar(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// freshCode signs in from a new browser and returns the code and its verifier.
func (e *opEnv) freshCode(t *testing.T) (code, verifier string) {
	t.Helper()
	verifier, ch := pkce()
	q, err := e.signIn(t, newBrowser(t), "s", "n", ch...)
	if err != nil {
		t.Fatal(err)
	}
	return q.Get("code"), verifier
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// TestProviderRefusesHostileRequests: each request an attacker (or a careless
// app) could make, refused with the error the standards name.
func TestProviderRefusesHostileRequests(t *testing.T) {
	e := startProvider(t, map[string]any{"id": "other", "secret": rpSecret + "-other", "redirect_uris": []string{rpCallback}})
	ctx := t.Context()
	// What the refusals log is idplug's JSON, the library's lines included.
	t.Cleanup(func() {
		for line := range strings.SplitSeq(strings.TrimSpace(e.idplug.logs.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("a log line that is not JSON (log_format: json): %s", line)
			}
		}
		if !strings.Contains(e.idplug.logs.String(), `"@module":"idplug.lib"`) {
			t.Error("no line of the provider's library in idplug's log")
		}
	})

	authorize := func(params url.Values) (*http.Response, url.Values) {
		t.Helper()
		b := newBrowser(t)
		resp, err := b.http.Get(e.issuer + "/authorize?" + params.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := resp.Location()
		if loc == nil {
			return resp, nil
		}
		return resp, loc.Query()
	}
	base := func() url.Values {
		_, opts := pkce()
		u, _ := url.Parse(e.app.AuthCodeURL("st", opts...))
		return u.Query()
	}

	t.Run("a redirect URI not registered is never redirected to", func(t *testing.T) {
		for _, uri := range []string{"https://evil.test/callback", rpCallback + "/../evil", rpCallback + "?x=1", "https://app.test/callback/", "HTTPS://APP.TEST/callback"} {
			p := base()
			p.Set("redirect_uri", uri)
			resp, _ := authorize(p)
			if loc := resp.Header.Get("Location"); resp.StatusCode < 400 || strings.Contains(loc, "evil") || strings.HasPrefix(loc, uri) {
				t.Errorf("redirect_uri %q: %d Location %q; want an error page", uri, resp.StatusCode, loc)
			}
		}
	})
	t.Run("a public client without PKCE", func(t *testing.T) {
		p := url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:3000/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
		_, q := authorize(p)
		if q.Get("error") != "invalid_request" || q.Get("iss") != e.issuer {
			t.Errorf("got %v, want invalid_request with iss", q)
		}
	})
	t.Run("a PKCE downgrade to plain", func(t *testing.T) {
		p := base()
		p.Set("code_challenge_method", "plain")
		p.Set("code_challenge", strings.Repeat("a", 43))
		_, q := authorize(p)
		if q.Get("error") != "invalid_request" {
			t.Errorf("got %v, want invalid_request", q)
		}
	})
	t.Run("a connector the client may not use", func(t *testing.T) {
		_, opts := pkce()
		u, _ := url.Parse((&oauth2.Config{ClientID: "spa", Endpoint: e.rp.Endpoint(), RedirectURL: "http://127.0.0.1:3000/cb", Scopes: []string{"openid"}}).AuthCodeURL("s", opts...))
		p := u.Query()
		p.Set("connector_id", "beta")
		_, q := authorize(p)
		if q.Get("error") != "access_denied" {
			t.Errorf("connector_id=beta for spa: %v, want access_denied", q)
		}
		p.Del("connector_id")
		p.Set("direct_sign_in", "social:beta")
		_, q = authorize(p)
		if q.Get("error") != "access_denied" {
			t.Errorf("direct_sign_in=social:beta for spa: %v, want access_denied", q)
		}
	})
	t.Run("oversized parameters", func(t *testing.T) {
		p := base()
		p.Set("state", strings.Repeat("s", 4096))
		_, q := authorize(p)
		if q.Get("error") != "invalid_request" {
			t.Errorf("a 4 KiB state: %v, want invalid_request", q)
		}
	})
	t.Run("a code replayed", func(t *testing.T) {
		code, verifier := e.freshCode(t)
		tok, err := e.app.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.app.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("second exchange: %v, want invalid_grant", err)
		}
		if _, err := e.rp.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatal("the first exchange's access token still works after the code came back")
		}
	})
	t.Run("a wrong PKCE verifier", func(t *testing.T) {
		code, _ := e.freshCode(t)
		if _, err := e.app.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("exchange with another verifier: %v, want invalid_grant", err)
		}
	})
	t.Run("the client's registered auth method only", func(t *testing.T) {
		post := e.app
		post.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		code, verifier := e.freshCode(t)
		if _, err := post.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_client") {
			t.Fatalf("client_secret_post for a client_secret_basic client: %v, want invalid_client", err)
		}
	})
	t.Run("an access token in the userinfo URL", func(t *testing.T) {
		// RFC 6750 2.3 lets a token ride in the query, and says not to: every
		// proxy on the way would log it. Refused; the header still works.
		code, verifier := e.freshCode(t)
		tok, err := e.app.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(e.issuer + "/userinfo?" + url.Values{"access_token": {tok.AccessToken}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Authorization header") {
			t.Errorf("userinfo with the token in its URL: %d %s", resp.StatusCode, body)
		}
		if _, err := e.rp.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Errorf("userinfo with the token in its header: %v", err)
		}
	})
	t.Run("tampered tokens and another client's refresh token", func(t *testing.T) {
		code, verifier := e.freshCode(t)
		tok, err := e.app.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		tampered := *tok
		tampered.AccessToken = flipChar(tok.AccessToken)
		if _, err := e.rp.UserInfo(ctx, oauth2.StaticTokenSource(&tampered)); err == nil {
			t.Error("userinfo took a tampered access token")
		}
		raw, _ := tok.Extra("id_token").(string)
		parts := strings.Split(raw, ".")
		parts[1] = flipChar(parts[1])
		if _, err := e.rp.Verifier(&gooidc.Config{ClientID: "app"}).Verify(ctx, strings.Join(parts, ".")); err == nil {
			t.Error("a tampered ID token verifies")
		}
		if _, err := e.rp.Verifier(&gooidc.Config{ClientID: "other"}).Verify(ctx, raw); err == nil {
			t.Error("app's ID token verifies for another client")
		}
		other := e.app
		other.ClientID, other.ClientSecret = "other", rpSecret+"-other"
		other.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		stolen := *tok
		stolen.Expiry = time.Now().Add(-time.Minute)
		if _, err := other.TokenSource(ctx, &stolen).Token(); !isOAuthError(err, "invalid_grant") {
			t.Errorf("app's refresh token used by another client: %v, want invalid_grant", err)
		}
		// The tampered and stolen tries did not spend app's own grant.
		mine := *tok
		mine.Expiry = time.Now().Add(-time.Minute)
		if _, err := e.app.TokenSource(ctx, &mine).Token(); err != nil {
			t.Errorf("app's own refresh after the tries: %v", err)
		}
	})
	t.Run("the chooser cannot be framed by another site", func(t *testing.T) {
		b := newBrowser(t)
		_, opts := pkce()
		resp, err := b.http.Get(e.app.AuthCodeURL("s", opts...))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := resp.Location()
		page, err := b.http.Get(loc.String())
		if err != nil {
			t.Fatal(err)
		}
		page.Body.Close()
		if page.StatusCode != 200 || !strings.Contains(page.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("chooser: %d CSP %q", page.StatusCode, page.Header.Get("Content-Security-Policy"))
		}
	})
	t.Run("logout without id_token_hint asks first", func(t *testing.T) {
		b := newBrowser(t)
		resp, err := b.http.Get(e.issuer + "/end_session?" + url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {rpLogout}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `id="sign-out"`) {
			t.Fatalf("end_session without a hint: %d, want the confirmation page", resp.StatusCode)
		}
		// The confirmation posted from another site is refused.
		req, _ := http.NewRequest("POST", e.issuer+"/end_session/confirm", strings.NewReader("client_id=app&post_logout_redirect_uri="+url.QueryEscape(rpLogout)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err = b.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "cross_origin_request") ||
			!strings.Contains(string(body), "Request refused") {
			t.Fatalf("a cross-site confirmation: %d, want 403 cross_origin_request, \"Request refused\":\n%s", resp.StatusCode, body)
		}
		// A post_logout_redirect_uri the client did not register is never followed.
		resp, err = b.http.Get(e.issuer + "/end_session?" + url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://evil.test/"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("an unregistered post_logout_redirect_uri: %d, want 400", resp.StatusCode)
		}
	})
	// Last: it blocks this address at the token endpoint for a minute.
	t.Run("brute force at the token endpoint", func(t *testing.T) {
		code, verifier := e.freshCode(t)
		// The guesses name the real app: an attacker can send any client id.
		wrong := e.app
		wrong.ClientSecret = "guess"
		wrong.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		var last error
		for range 12 {
			_, last = wrong.Exchange(ctx, "nothing")
		}
		var re *oauth2.RetrieveError
		if !errors.As(last, &re) || re.Response.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("after 12 failures: %v, want 429", last)
		}
		// The guesser's address is shut out; the app itself, elsewhere, is not.
		elsewhere := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
		if _, err := e.app.Exchange(context.WithValue(ctx, oauth2.HTTPClient, elsewhere), code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("the app, from another address, after someone guessed its secret: %v", err)
		}
		resp, err := http.Get(e.idplug.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`idplug_provider_events_total{event="throttled"}`, `idplug_provider_events_total{event="refused_client"}`, `idplug_provider_events_total{event="replayed_code"} 1`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}
