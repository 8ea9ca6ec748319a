package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/stubprovider"
	"github.com/idplug/idplug/sdk"
)

const callbackURL = "https://idplug.example/callback/github"

func parse(t *testing.T, cfg map[string]any) *instance {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	in, err := connector{}.ParseConfig(raw)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return in
}

// signIn starts a sign-in, plays the user approving it on the stub, and finishes it.
func signIn(t *testing.T, s *githubStub, in *instance) (*sdk.UserInfoResult, error) {
	t.Helper()
	ctx := context.Background()
	auth, err := connector{}.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{RedirectURI: callbackURL, State: "st-1"})
	if err != nil {
		t.Fatalf("AuthorizationURI: %v", err)
	}
	return connector{}.UserInfo(ctx, in, sdk.UserInfoRequest{
		Session:  auth.Session,
		Callback: map[string]string{"code": s.approve(auth.RedirectTo), "state": "st-1"},
	})
}

func codeOf(err error) sdk.ErrorCode {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestAuthorizationURL(t *testing.T) {
	in := parse(t, map[string]any{"clientId": "Iv1.abc", "clientSecret": "s"})
	auth, err := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: callbackURL, State: "st-1"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != "https://github.com/login/oauth/authorize" {
		t.Errorf("endpoint = %s", u)
	}
	for k, want := range map[string]string{
		"client_id": "Iv1.abc", "redirect_uri": callbackURL, "state": "st-1",
		"scope": "read:user user:email", "response_type": "code", "code_challenge_method": "S256",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("code_challenge") == "" || auth.Session[sessionCodeVerifier] == "" {
		t.Error("no PKCE")
	}
	if auth.Session[sessionState] != "st-1" || auth.Session[sessionRedirectURI] != callbackURL {
		t.Errorf("session = %v", auth.Session)
	}
}

func TestSignInWithAPrivateEmail(t *testing.T) {
	s := newGitHubStub(t)
	res, err := signIn(t, s, parse(t, s.config(nil)))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	u := res.UserInfo
	if u.ID != "12345678901" || *u.Name != "The Octocat" || *u.Avatar != "https://avatars.githubusercontent.com/u/583231?v=4" ||
		*u.Email != "octocat@github.com" || u.Phone != nil {
		t.Errorf("profile = %+v", u)
	}
	if string(u.RawData) != octocat {
		t.Errorf("rawData = %s, want GET /user's answer", u.RawData)
	}
	if res.Tokens != nil {
		t.Error("tokens returned without storeTokens")
	}

	tokenReqs := s.Requests("/login/oauth/access_token")
	if len(tokenReqs) != 1 {
		t.Fatalf("%d token requests", len(tokenReqs))
	}
	f := tokenReqs[0].Form
	if f.Get("client_id") != stubClientID || f.Get("client_secret") != stubClientSecret || f.Get("redirect_uri") != callbackURL ||
		f.Get("grant_type") != "authorization_code" || f.Get("code_verifier") == "" {
		t.Errorf("token request = %v", f)
	}
	for _, path := range []string{"/user", "/user/emails"} {
		reqs := s.Requests(path)
		if len(reqs) != 1 {
			t.Fatalf("%d requests to %s", len(reqs), path)
		}
		h := reqs[0].Header
		if h.Get("Accept") != "application/vnd.github+json" || h.Get("X-GitHub-Api-Version") != "2022-11-28" ||
			!strings.HasPrefix(h.Get("User-Agent"), "idplug-github/") || h.Get("Authorization") != "Bearer "+stubAccessToken {
			t.Errorf("%s headers = %v", path, h)
		}
	}
}

// TestSignInKeepsThePublicEmailOnlyWhenListedVerified: GET /user's public
// address is the user's choice, which GitHub does not vouch for there (it
// unverifies an address that bounces): it is kept only when GET /user/emails
// lists it as verified; else the primary verified address is taken, else none.
// A token that may not read /user/emails gets no email, public or not.
func TestSignInKeepsThePublicEmailOnlyWhenListedVerified(t *testing.T) {
	tests := []struct {
		name   string
		emails string
		fail   *stubprovider.Answer
		want   string // "" for none
	}{
		{"listed verified", `[{"email":"octocat@github.com","verified":true,"primary":true},{"email":"public@example.com","verified":true,"primary":false,"visibility":"public"}]`, nil, "public@example.com"},
		{"listed unverified", `[{"email":"octocat@github.com","verified":true,"primary":true},{"email":"public@example.com","verified":false,"primary":false,"visibility":"public"}]`, nil, "octocat@github.com"},
		{"not listed", octocatEmails, nil, "octocat@github.com"},
		{"listed in another case", `[{"email":"Public@Example.com","verified":true,"primary":false}]`, nil, ""},
		// The public address another's, unverified and primary; the user's own verified one not primary.
		{"unverified primary", `[{"email":"public@example.com","verified":false,"primary":true,"visibility":"public"},{"email":"me@attacker.example","verified":true,"primary":false}]`, nil, ""},
		{"no user:email scope (404)", "", &stubprovider.Answer{Status: 404, Body: `{"message":"Not Found"}`}, ""},
		{"GitHub Enterprise without user:email (403)", "", &stubprovider.Answer{Status: 403, Body: `{"message":"Resource not accessible by integration"}`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newGitHubStub(t)
			s.set(func(s *githubStub) {
				s.user = strings.Replace(octocat, `"email":null`, `"email":"public@example.com"`, 1)
				s.emails, s.emailErr = tt.emails, tt.fail
			})
			res, err := signIn(t, s, parse(t, s.config(nil)))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if res.UserInfo.Email != nil {
				got = *res.UserInfo.Email
			}
			if got != tt.want {
				t.Errorf("email = %q, want %q", got, tt.want)
			}
			if reqs := s.Requests("/user/emails"); len(reqs) != 1 || reqs[0].Query.Get("per_page") != "100" {
				t.Errorf("%d requests to /user/emails (%v), want 1 for 100 addresses", len(reqs), reqs)
			}
		})
	}
}

func TestEmailEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		emails string
		fail   *stubprovider.Answer
		want   *string
		code   sdk.ErrorCode
	}{
		{"no verified primary", `[{"email":"a@example.com","verified":false,"primary":true},{"email":"b@example.com","verified":true,"primary":false}]`, nil, nil, ""},
		{"no addresses", `[]`, nil, nil, ""},
		{"scope without user:email (404)", "", &stubprovider.Answer{Status: 404, Body: `{"message":"Not Found"}`}, nil, ""},
		{"GitHub Enterprise without user:email (403)", "", &stubprovider.Answer{Status: 403, Body: `{"message":"Resource not accessible by integration"}`}, nil, ""},
		{"rate limited", "", &stubprovider.Answer{Status: 403, Header: map[string]string{"X-RateLimit-Remaining": "0"}, Body: `{"message":"API rate limit exceeded"}`}, nil, sdk.CodeRateLimitExceeded},
		// A secondary limit is no missing scope: the sign-in fails rather than
		// going on without the verified email.
		{"secondary rate limit", "", &stubprovider.Answer{Status: 403, Header: map[string]string{"Retry-After": "60", "X-RateLimit-Remaining": "4998"},
			Body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`}, nil, sdk.CodeRateLimitExceeded},
		{"outage", "", &stubprovider.Answer{Status: 502}, nil, sdk.CodeProviderUnavailable},
		{"not a list", `{"email":"a@example.com"}`, nil, nil, sdk.CodeInvalidResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newGitHubStub(t)
			s.set(func(s *githubStub) { s.emails, s.emailErr = tt.emails, tt.fail })
			res, err := signIn(t, s, parse(t, s.config(nil)))
			if tt.code != "" {
				if codeOf(err) != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.UserInfo.Email != nil {
				t.Errorf("email = %q, want none", *res.UserInfo.Email)
			}
		})
	}
}

func TestNameFallsBackToLogin(t *testing.T) {
	s := newGitHubStub(t)
	s.set(func(s *githubStub) { s.user = `{"login":"hubot","id":2,"avatar_url":null,"name":null,"email":null}` })
	res, err := signIn(t, s, parse(t, s.config(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if u := res.UserInfo; u.ID != "2" || u.Name == nil || *u.Name != "hubot" || u.Avatar != nil {
		t.Errorf("profile = %+v", u)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("bad verification code", func(t *testing.T) {
		s := newGitHubStub(t)
		in := parse(t, s.config(nil))
		auth, _ := connector{}.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{RedirectURI: callbackURL, State: "st"})
		_, err := connector{}.UserInfo(ctx, in, sdk.UserInfoRequest{Session: auth.Session, Callback: map[string]string{"code": "expired-code-123", "state": "st"}})
		if codeOf(err) != sdk.CodeSocialAuthCodeInvalid {
			t.Fatalf("err = %v, want social_auth_code_invalid", err)
		}
		if e := sdk.AsError(err); e.Details["error"] != "bad_verification_code" || strings.Contains(e.Message, "expired-code-123") {
			t.Errorf("error = %s %v", e.Message, e.Details)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		s := newGitHubStub(t)
		_, err := signIn(t, s, parse(t, s.config(map[string]any{"clientSecret": "wrong"})))
		if codeOf(err) != sdk.CodeInvalidConfig {
			t.Fatalf("err = %v, want invalid_config", err)
		}
	})
	t.Run("/user 401", func(t *testing.T) {
		s := newGitHubStub(t)
		s.set(func(s *githubStub) { s.tokens = map[string]bool{} })
		_, err := signIn(t, s, parse(t, s.config(nil)))
		if codeOf(err) != sdk.CodeSocialAccessTokenInvalid {
			t.Fatalf("err = %v, want social_invalid_access_token", err)
		}
		if e := sdk.AsError(err); e.Details["message"] != "Bad credentials" || strings.Contains(e.Message+e.Error(), stubAccessToken) {
			t.Errorf("error = %s %v", e.Message, e.Details)
		}
	})
	t.Run("access denied", func(t *testing.T) {
		in := parse(t, map[string]any{"clientId": "c", "clientSecret": "s"})
		_, err := connector{}.UserInfo(ctx, in, sdk.UserInfoRequest{
			Session: sdk.Session{sessionState: "st", sessionRedirectURI: callbackURL},
			Callback: map[string]string{"state": "st", "error": "access_denied",
				"error_description": "The user has denied your application access."},
		})
		if codeOf(err) != sdk.CodeAuthorizationFailed {
			t.Fatalf("err = %v, want authorization_failed", err)
		}
	})
}

func TestStoreTokensAndRefresh(t *testing.T) {
	s := newGitHubStub(t)
	in := parse(t, s.config(map[string]any{"storeTokens": true}))
	res, err := signIn(t, s, in)
	if err != nil {
		t.Fatal(err)
	}
	if tok := res.Tokens; tok == nil || tok.AccessToken != stubAccessToken || tok.Scope != "read:user,user:email" || tok.TokenType != "bearer" {
		t.Fatalf("tokens = %+v", res.Tokens)
	}
	if _, err := (connector{}).Refresh(context.Background(), in, ""); codeOf(err) != sdk.CodeInsufficientRequestParameters {
		t.Errorf("Refresh(\"\") = %v", err)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name      string
		config    string
		authorize string
		api       string
		scope     string
		fields    []string
	}{
		{"github.com", `{"clientId":"c","clientSecret":"s"}`, "https://github.com/login/oauth/authorize", "https://api.github.com", defaultScope, nil},
		{"enterprise", `{"clientId":"c","clientSecret":"s","baseUrl":"https://ghe.example/"}`, "https://ghe.example/login/oauth/authorize", "https://ghe.example/api/v3", defaultScope, nil},
		{"enterprise with its own API URL", `{"clientId":"c","clientSecret":"s","baseUrl":"https://ghe.example","apiUrl":"https://api.ghe.example/","scope":"read:user"}`,
			"https://ghe.example/login/oauth/authorize", "https://api.ghe.example", "read:user", nil},
		{"empty scope means the default", `{"clientId":"c","clientSecret":"s","scope":" "}`, "https://github.com/login/oauth/authorize", "https://api.github.com", defaultScope, nil},
		{"nothing", `{}`, "", "", "", []string{"clientId", "clientSecret"}},
		{"bad values", `{"clientId":"c","clientSecret":"s","baseUrl":"github.com","apiUrl":"https://api.example/?x=1","scope":"read:user,user:email","caCertificates":"nope"}`,
			"", "", "", []string{"apiUrl", "baseUrl", "caCertificates", "scope"}},
		{"unknown and mistyped keys", `{"clientID":"c","clientSecret":"s","storeTokens":"yes"}`, "", "", "", []string{"clientID", "clientId", "storeTokens"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := connector{}.ParseConfig([]byte(tt.config))
			if tt.fields != nil {
				var ce *sdk.ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want a config error", err)
				}
				var got []string
				for _, f := range ce.Fields {
					got = append(got, f.Field)
				}
				slices.Sort(got)
				if !slices.Equal(got, tt.fields) {
					t.Errorf("fields = %v, want %v (%v)", got, tt.fields, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.authorizeURL != tt.authorize || in.api.BaseURL != tt.api || in.scope != tt.scope {
				t.Errorf("instance = %s %s %q", in.authorizeURL, in.api.BaseURL, in.scope)
			}
		})
	}
}

// TestEndpointsMustBeHTTPSOffLoopback: the token exchange at baseUrl sends
// the client secret and the code, and apiUrl gets the access token, so both
// must be https, as the oidc plugin's issuer must; http only on a loopback
// address (the stubs of these tests). A GitHub Enterprise Server over plain
// http was accepted.
func TestEndpointsMustBeHTTPSOffLoopback(t *testing.T) {
	_, err := connector{}.ParseConfig([]byte(`{"clientId":"c","clientSecret":"s","baseUrl":"http://ghe.example","apiUrl":"http://api.ghe.example"}`))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || len(ce.Fields) != 2 {
		t.Fatalf("err = %v, want baseUrl and apiUrl refused", err)
	}
	for _, f := range ce.Fields {
		if (f.Field != "baseUrl" && f.Field != "apiUrl") || !strings.Contains(f.Message, "must be https") {
			t.Errorf("%s: %s, want baseUrl and apiUrl refused over http", f.Field, f.Message)
		}
	}
	in := parse(t, map[string]any{"clientId": "c", "clientSecret": "s", "baseUrl": "http://127.0.0.1:8080"})
	if in.token.URL != "http://127.0.0.1:8080/login/oauth/access_token" || in.api.BaseURL != "http://127.0.0.1:8080/api/v3" {
		t.Errorf("on loopback: token %s, API %s", in.token.URL, in.api.BaseURL)
	}
}

func TestPerRequestScope(t *testing.T) {
	in := parse(t, map[string]any{"clientId": "Iv1.abc", "clientSecret": "s"})
	auth, err := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: callbackURL, State: "st-1", Scope: "read:user repo"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	if got := u.Query().Get("scope"); got != "read:user repo" {
		t.Errorf("scope = %q, want the one asked for this sign-in", got)
	}
}
