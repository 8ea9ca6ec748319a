package connectortest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// client is an oauth2kit client of the fake provider, as a connector would be.
type client struct {
	p        *connectortest.Provider
	token    *oauth2kit.TokenEndpoint
	userInfo *oauth2kit.UserInfoEndpoint
}

func newClient(t *testing.T, p *connectortest.Provider, method oauth2kit.AuthMethod) *client {
	t.Helper()
	h, err := oauth2kit.NewHTTPClient(oauth2kit.HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &client{
		p: p,
		token: &oauth2kit.TokenEndpoint{URL: p.TokenEndpoint(), HTTP: h,
			Auth: oauth2kit.ClientAuth{Method: method, ClientID: p.ClientID(), ClientSecret: p.ClientSecret()}},
		userInfo: &oauth2kit.UserInfoEndpoint{URL: p.UserInfoEndpoint(), HTTP: h},
	}
}

const redirect = "https://app.example/callback"

// authorize runs the authorization step with PKCE and returns the callback and verifier.
func (c *client) authorize(t *testing.T, state string) (map[string]string, string) {
	t.Helper()
	pkce := oauth2kit.NewPKCE()
	u, err := oauth2kit.AuthorizationURL(oauth2kit.AuthorizationRequest{
		Endpoint: c.p.AuthorizationEndpoint(), ClientID: c.p.ClientID(), RedirectURI: redirect,
		State: state, Scope: "profile email", CodeChallenge: pkce.Challenge,
	})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := c.p.Authorize(u)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return cb, pkce.Verifier
}

func code(err error) sdk.ErrorCode {
	if err == nil {
		return ""
	}
	return sdk.AsError(err).Code
}

func TestProviderSignInAndRecordedRequests(t *testing.T) {
	for _, method := range []oauth2kit.AuthMethod{oauth2kit.ClientSecretPost, oauth2kit.ClientSecretBasic} {
		t.Run(string(method), func(t *testing.T) {
			p := connectortest.NewProvider(t)
			c := newClient(t, p, method)
			ctx := context.Background()
			cb, verifier := c.authorize(t, "s1")
			if cb["state"] != "s1" || cb["code"] == "" {
				t.Fatalf("callback = %v", cb)
			}
			tok, err := c.token.Exchange(ctx, cb["code"], redirect, verifier)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.Scope != "profile email" || tok.RefreshToken == "" || tok.ExpiresIn == 0 {
				t.Errorf("token = %+v", tok)
			}
			raw, err := c.userInfo.Fetch(ctx, tok.AccessToken)
			if err != nil || string(raw) != connectortest.DefaultProfile {
				t.Fatalf("Fetch = %s, %v", raw, err)
			}

			reqs := p.Requests()
			if len(reqs) != 3 || reqs[0].Endpoint != connectortest.AuthorizationEndpoint ||
				reqs[1].Endpoint != connectortest.TokenEndpoint || reqs[2].Endpoint != connectortest.UserInfoEndpoint {
				t.Fatalf("requests = %+v", reqs)
			}
			if reqs[0].Query.Get("scope") != "profile email" || reqs[0].Query.Get("code_challenge_method") != "S256" {
				t.Errorf("authorization request = %v", reqs[0].Query)
			}
			if got := reqs[1].Form.Get("code_verifier"); got != verifier {
				t.Errorf("token request verifier = %q", got)
			}
			if reqs[2].Header.Get("Authorization") != "Bearer "+tok.AccessToken {
				t.Errorf("userinfo Authorization = %q", reqs[2].Header.Get("Authorization"))
			}

			// A code works once; using it again revokes what it gave.
			if _, err := c.token.Exchange(ctx, cb["code"], redirect, verifier); code(err) != sdk.CodeSocialAuthCodeInvalid {
				t.Errorf("second exchange: %v, want social_auth_code_invalid", err)
			}
			if _, err := c.userInfo.Fetch(ctx, tok.AccessToken); code(err) != sdk.CodeSocialAccessTokenInvalid {
				t.Errorf("userinfo after a replayed code: %v, want social_invalid_access_token", err)
			}
		})
	}
}

func TestProviderRefusesWhatARealOneRefuses(t *testing.T) {
	p := connectortest.NewProvider(t)
	ctx := context.Background()
	c := newClient(t, p, oauth2kit.ClientSecretPost)

	cb, verifier := c.authorize(t, "s")
	if _, err := c.token.Exchange(ctx, cb["code"], redirect, verifier+"x"); code(err) != sdk.CodeSocialAuthCodeInvalid {
		t.Errorf("wrong verifier: %v", err)
	}
	cb, verifier = c.authorize(t, "s")
	if _, err := c.token.Exchange(ctx, cb["code"], redirect+"/other", verifier); code(err) != sdk.CodeSocialAuthCodeInvalid {
		t.Errorf("wrong redirect URI: %v", err)
	}
	cb, _ = c.authorize(t, "s")
	if _, err := c.token.Exchange(ctx, cb["code"], redirect, ""); code(err) != sdk.CodeSocialAuthCodeInvalid {
		t.Errorf("no verifier: %v", err)
	}
	bad := newClient(t, p, oauth2kit.ClientSecretPost)
	bad.token.Auth.ClientSecret = "wrong"
	cb, verifier = c.authorize(t, "s")
	if _, err := bad.token.Exchange(ctx, cb["code"], redirect, verifier); code(err) != sdk.CodeInvalidConfig {
		t.Errorf("wrong secret: %v, want invalid_config (invalid_client)", err)
	}
	if _, err := c.userInfo.Fetch(ctx, "made-up"); code(err) != sdk.CodeSocialAccessTokenInvalid {
		t.Errorf("unknown token: %v", err)
	}

	for _, u := range []string{
		p.AuthorizationEndpoint() + "?client_id=other&redirect_uri=" + url.QueryEscape(redirect),
		p.AuthorizationEndpoint() + "?client_id=" + p.ClientID(),
		p.AuthorizationEndpoint() + "?response_type=token&client_id=" + p.ClientID() + "&redirect_uri=" + url.QueryEscape(redirect),
		p.TokenEndpoint() + "?client_id=" + p.ClientID(),
		"https://elsewhere.example/authorize",
	} {
		if cb, err := p.Authorize(u); err == nil {
			t.Errorf("Authorize(%s) = %v, want an error", u, cb)
		}
	}
}

func TestProviderRefreshRotates(t *testing.T) {
	p := connectortest.NewProvider(t)
	c := newClient(t, p, oauth2kit.ClientSecretBasic)
	ctx := context.Background()
	cb, verifier := c.authorize(t, "s")
	tok, err := c.token.Exchange(ctx, cb["code"], redirect, verifier)
	if err != nil {
		t.Fatal(err)
	}
	next, err := c.token.Refresh(ctx, tok.RefreshToken)
	if err != nil || next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("Refresh = %+v, %v", next, err)
	}
	if _, err := c.token.Refresh(ctx, tok.RefreshToken); code(err) != sdk.CodeSocialAccessTokenInvalid {
		t.Errorf("reused refresh token: %v", err)
	}
	p.RevokeTokens()
	if _, err := c.userInfo.Fetch(ctx, next.AccessToken); code(err) != sdk.CodeSocialAccessTokenInvalid {
		t.Errorf("revoked token: %v", err)
	}
}

func TestProviderFormEncodedAnswersAndResources(t *testing.T) {
	p := connectortest.NewProvider(t,
		connectortest.WithTokenFormat(connectortest.TokenForm),
		connectortest.WithTokenErrorStatus(http.StatusOK),
		connectortest.WithGrantedScope("read:user,user:email"),
		connectortest.WithPaths("/login/oauth/authorize", "/login/oauth/access_token", "/user"),
		connectortest.WithClient("gh-client", "gh-secret"),
		connectortest.WithoutRefreshTokens(),
		connectortest.WithProfile(`{"id":12345678901,"login":"octocat"}`),
	)
	p.SetResource("/user/emails", `[{"email":"octocat@example.com","primary":true,"verified":true}]`)
	if p.TokenEndpoint() != p.URL+"/login/oauth/access_token" {
		t.Fatalf("TokenEndpoint = %s", p.TokenEndpoint())
	}
	cb, err := p.Authorize(p.AuthorizationEndpoint() + "?client_id=gh-client&state=s&redirect_uri=" + url.QueryEscape(redirect))
	if err != nil {
		t.Fatal(err)
	}
	post := func(form url.Values) (*http.Response, string) {
		resp, err := http.PostForm(p.TokenEndpoint(), form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := post(url.Values{"client_id": {"gh-client"}, "client_secret": {"gh-secret"}, "code": {cb["code"]},
		"redirect_uri": {redirect}, "grant_type": {"authorization_code"}})
	answer, _ := url.ParseQuery(body)
	if resp.Header.Get("Content-Type") != "application/x-www-form-urlencoded; charset=utf-8" ||
		answer.Get("access_token") == "" || answer.Get("scope") != "read:user,user:email" ||
		answer.Get("token_type") != "bearer" || answer.Has("refresh_token") {
		t.Fatalf("answer = %s (%s)", body, resp.Header.Get("Content-Type"))
	}
	resp, body = post(url.Values{"client_id": {"gh-client"}, "client_secret": {"gh-secret"}, "code": {"bad"},
		"redirect_uri": {redirect}, "grant_type": {"authorization_code"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "error=invalid_grant") {
		t.Errorf("bad code: HTTP %d %s", resp.StatusCode, body)
	}

	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, p.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get("/user/emails", answer.Get("access_token")); status != 200 || !json.Valid([]byte(body)) || !strings.Contains(body, "octocat@example.com") {
		t.Errorf("/user/emails = %d %s", status, body)
	}
	if status, _ := get("/user/emails", ""); status != http.StatusUnauthorized {
		t.Errorf("/user/emails without a token = %d", status)
	}
	if status, body := get("/user", answer.Get("access_token")); status != 200 || body != `{"id":12345678901,"login":"octocat"}` {
		t.Errorf("/user = %d %s", status, body)
	}
	if status, _ := get("/nothing", answer.Get("access_token")); status != http.StatusNotFound {
		t.Errorf("/nothing = %d", status)
	}
	if n := len(p.RequestsTo(connectortest.ResourceEndpoint)); n != 2 {
		t.Errorf("%d resource requests recorded, want 2", n)
	}
}

func TestProviderFailNextAndHelpers(t *testing.T) {
	p := connectortest.NewProvider(t)
	c := newClient(t, p, oauth2kit.ClientSecretPost)
	ctx := context.Background()

	p.FailNext(connectortest.TokenEndpoint, 503, "")
	p.FailNext(connectortest.TokenEndpoint, 429, `{"error":"slow_down"}`)
	cb, verifier := c.authorize(t, "s")
	if _, err := c.token.Exchange(ctx, cb["code"], redirect, verifier); code(err) != sdk.CodeProviderUnavailable {
		t.Errorf("first: %v, want provider_unavailable", err)
	}
	if _, err := c.token.Exchange(ctx, cb["code"], redirect, verifier); code(err) != sdk.CodeRateLimitExceeded {
		t.Errorf("second: %v, want rate_limit_exceeded", err)
	}
	// The canned answers did not use the code.
	tok, err := c.token.Exchange(ctx, cb["code"], redirect, verifier)
	if err != nil {
		t.Fatalf("third: %v", err)
	}
	p.FailNext(connectortest.UserInfoEndpoint, 401, `{"error":"invalid_token"}`)
	p.FailNext(connectortest.UserInfoEndpoint, 500, "oops")
	p.ClearFailures()
	p.SetProfile(`{"id":"changed"}`)
	if raw, err := c.userInfo.Fetch(ctx, tok.AccessToken); err != nil || string(raw) != `{"id":"changed"}` {
		t.Errorf("Fetch after ClearFailures and SetProfile = %s, %v", raw, err)
	}

	denied, err := p.Deny(p.AuthorizationEndpoint() + "?state=s9")
	if err != nil || denied["error"] != "access_denied" || denied["state"] != "s9" {
		t.Errorf("Deny = %v, %v", denied, err)
	}
	issued := p.IssueCode(redirect, "")
	if _, err := c.token.Exchange(ctx, issued, redirect, ""); err != nil {
		t.Errorf("exchanging an issued code: %v", err)
	}
}

func TestPublicClient(t *testing.T) {
	p := connectortest.NewProvider(t, connectortest.WithClient("spa", ""))
	c := newClient(t, p, oauth2kit.AuthNone)
	cb, verifier := c.authorize(t, "s")
	if _, err := c.token.Exchange(context.Background(), cb["code"], redirect, verifier); err != nil {
		t.Errorf("public client: %v", err)
	}
}

func TestProviderWithClientAuthRefusesOtherMethods(t *testing.T) {
	p := connectortest.NewProvider(t, connectortest.WithClientAuth(connectortest.ClientSecretBasic))
	ctx := context.Background()
	post := newClient(t, p, oauth2kit.ClientSecretPost)
	cb, verifier := post.authorize(t, "s1")
	if _, err := post.token.Exchange(ctx, cb["code"], redirect, verifier); code(err) == "" {
		t.Errorf("client_secret_post was accepted by a provider that requires client_secret_basic")
	}
	basic := newClient(t, p, oauth2kit.ClientSecretBasic)
	cb, verifier = basic.authorize(t, "s2")
	if _, err := basic.token.Exchange(ctx, cb["code"], redirect, verifier); err != nil {
		t.Errorf("client_secret_basic: %v", err)
	}
}

// A confidential client that sends no secret is told so, and how a public
// client is made: the method it uses (oauth2kit's constant, the kit's type)
// is not enough.
func TestProviderSaysANoSecretClientIsConfidential(t *testing.T) {
	p := connectortest.NewProvider(t, connectortest.WithClientAuth(oauth2kit.AuthNone))
	c := newClient(t, p, oauth2kit.AuthNone)
	cb, verifier := c.authorize(t, "s1")
	_, err := c.token.Exchange(context.Background(), cb["code"], redirect, verifier)
	if code(err) != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "no secret was sent") || !strings.Contains(err.Error(), `WithClient(id, \"\")`) {
		t.Errorf("no secret from a confidential client: %v", err)
	}
}

func TestProviderRotatesRefreshTokens(t *testing.T) {
	p := connectortest.NewProvider(t)
	c := newClient(t, p, oauth2kit.ClientSecretPost)
	ctx := context.Background()
	cb, verifier := c.authorize(t, "s1")
	tok, err := c.token.Exchange(ctx, cb["code"], redirect, verifier)
	if err != nil {
		t.Fatal(err)
	}
	next, err := c.token.Refresh(ctx, tok.RefreshToken)
	if err != nil || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %+v, %v", next, err)
	}
	if _, err := c.token.Refresh(ctx, tok.RefreshToken); code(err) == "" {
		t.Errorf("the old refresh token was accepted again")
	}
	if _, err := c.token.Refresh(ctx, next.RefreshToken); err != nil {
		t.Errorf("the new refresh token: %v", err)
	}
}

func TestProviderDelayEndsWithTheRequest(t *testing.T) {
	p := connectortest.NewProvider(t)
	c := newClient(t, p, oauth2kit.ClientSecretPost)
	cb, verifier := c.authorize(t, "s1")
	p.DelayNext(connectortest.TokenEndpoint, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.token.Exchange(ctx, cb["code"], redirect, verifier)
	if code(err) != sdk.CodeProviderTimeout {
		t.Errorf("a delayed answer: %v; want provider_timeout", err)
	}
	// Close returns: the held request ended with its client's context.
	p.Close()
}

func TestProviderServesAnUnverifiedEmail(t *testing.T) {
	emailKeptOnlyWhenVerified(t, connectortest.NewProvider(t),
		oauth2kit.ProfileMap{ID: "id", Email: "email", EmailVerified: connectortest.DefaultEmailVerifiedField})
}

// TestProviderServesAnUnconfirmedEmail: a provider that says when it verified
// the address (GitLab's confirmed_at) says null until then, never false.
func TestProviderServesAnUnconfirmedEmail(t *testing.T) {
	p := connectortest.NewProvider(t,
		connectortest.WithProfile(`{"id":1,"email":"ann@example.com","confirmed_at":"2012-05-23T09:05:22Z"}`),
		connectortest.WithEmailVerifiedAtField("confirmed_at"))
	for _, raw := range emailKeptOnlyWhenVerified(t, p, oauth2kit.ProfileMap{ID: "id", Email: "email", EmailVerifiedAt: "confirmed_at"})[1:] {
		if !strings.Contains(string(raw), `"confirmed_at":null`) {
			t.Errorf("unverified: %s; want confirmed_at null", raw)
		}
	}
}

// emailKeptOnlyWhenVerified signs in at p, then reads the profile with the
// email verified and unverified: m keeps the email only in the first. It
// returns the two answers.
func emailKeptOnlyWhenVerified(t *testing.T, p *connectortest.Provider, m oauth2kit.ProfileMap) [][]byte {
	t.Helper()
	c := newClient(t, p, oauth2kit.ClientSecretPost)
	ctx := context.Background()
	cb, verifier := c.authorize(t, "s1")
	tok, err := c.token.Exchange(ctx, cb["code"], redirect, verifier)
	if err != nil {
		t.Fatal(err)
	}
	var answers [][]byte
	for _, unverified := range []bool{false, true} {
		p.ServeUnverifiedEmail(unverified)
		raw, err := c.userInfo.Fetch(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		u, err := oauth2kit.MapProfile(raw, m)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Email != nil; got == unverified {
			t.Errorf("unverified=%v: email %v in %s", unverified, u.Email, raw)
		}
		answers = append(answers, raw)
	}
	return answers
}
