package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/plugintest"
)

// The OpenID Provider with openid-client (an OpenID-certified relying party,
// scripts/relying-parties/openid-client/rp.mjs) as the app: the library
// discovers idplug, builds the authorization request (PKCE S256, state,
// nonce), checks the answer (RFC 9207 iss, state, the ID token and its
// nonce), and calls the userinfo, refresh and end-session endpoints. The test
// plays the browser between them, as provider_test.go does, and checks what
// the library got.

const (
	ocScope    = "openid profile email offline_access"
	ocCallback = "https://rp.test/openid-client/callback"
	ocLogout   = "https://rp.test/openid-client/signed-out"
)

func TestProviderWithOpenIDClient(t *testing.T) {
	key, jwks := oidctest.NewECKey(t)
	publicJWKS, err := json.Marshal(jwks)
	if err != nil {
		t.Fatal(err)
	}
	privateJWK, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: jwks.Keys[0].KeyID, Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	basicSecret := oidctest.NewClientSecret(t)
	e := startProvider(t,
		map[string]any{"id": "oc-basic", "secret": basicSecret, "redirect_uris": []string{ocCallback}, "post_logout_redirect_uris": []string{ocLogout}},
		map[string]any{"id": "oc-public", "public": true, "redirect_uris": []string{ocCallback}, "post_logout_redirect_uris": []string{ocLogout}, "connectors": []string{"acme"}},
		map[string]any{"id": "oc-key", "token_endpoint_auth_method": "private_key_jwt", "jwks": string(publicJWKS),
			"id_token_signed_response_alg": "ES256", "redirect_uris": []string{ocCallback}, "post_logout_redirect_uris": []string{ocLogout}, "connectors": []string{"acme"}},
	)
	want := oidctest.DefaultAccount()

	cases := []struct {
		name      string
		discover  map[string]any
		params    map[string]string // added to the authorization request
		connector string
	}{
		// Dex's connector_id picks beta among the two connectors.
		{"client_secret_basic", map[string]any{"client_id": "oc-basic", "auth": "client_secret_basic", "client_secret": basicSecret},
			map[string]string{"connector_id": "beta"}, "beta"},
		// A public client: PKCE only; it may use acme alone, so no chooser.
		{"public client with PKCE", map[string]any{"client_id": "oc-public", "auth": "none"}, nil, "acme"},
		// private_key_jwt, with ES256 ID tokens for this client.
		{"private_key_jwt", map[string]any{"client_id": "oc-key", "auth": "private_key_jwt", "private_jwk": json.RawMessage(privateJWK), "id_token_alg": "ES256"}, nil, "acme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rp := startOpenIDClient(t)
			disc := map[string]any{"op": "discover", "issuer": e.issuer}
			for k, v := range c.discover {
				disc[k] = v
			}
			var meta struct {
				Issuer       string `json:"issuer"`
				IssSupported bool   `json:"authorization_response_iss_parameter_supported"`
			}
			rp.must(t, disc, &meta)
			if meta.Issuer != e.issuer || !meta.IssSupported {
				t.Fatalf("discovery = %+v; want issuer %s and authorization_response_iss_parameter_supported", meta, e.issuer)
			}

			var auth struct{ URL string }
			rp.must(t, map[string]any{"op": "authorize", "redirect_uri": ocCallback, "scope": ocScope, "params": c.params}, &auth)
			q := mustURL(t, auth.URL).Query()
			if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
				t.Fatalf("authorization request %s: want PKCE S256, a nonce and a state", auth.URL)
			}
			b := newBrowser(t)
			cb, err := b.walk(t, auth.URL, ocCallback)
			if err != nil {
				t.Fatalf("sign-in: %v\n%s", err, e.idplug.logs)
			}
			if cb.Query().Get("iss") != e.issuer {
				t.Fatalf("callback %s: want iss %s (RFC 9207)", cb, e.issuer)
			}

			// The library refuses an answer that claims another issuer, or
			// none, before it spends the code.
			for what, tamper := range map[string]func(url.Values){
				"another iss": func(v url.Values) { v.Set("iss", "http://127.0.0.1:1/oidc") },
				"no iss":      func(v url.Values) { v.Del("iss") },
			} {
				bad := *cb
				v := bad.Query()
				tamper(v)
				bad.RawQuery = v.Encode()
				if err := rp.call(t, map[string]any{"op": "callback", "url": bad.String()}, nil); err == nil || !strings.Contains(err.Error(), `"iss"`) {
					t.Errorf("callback with %s: %v, want openid-client to refuse the iss", what, err)
				}
			}

			var tok struct {
				Claims       map[string]any `json:"claims"`
				Scope        string         `json:"scope"`
				RefreshToken string         `json:"refresh_token"`
			}
			rp.must(t, map[string]any{"op": "callback", "url": cb.String()}, &tok)
			sub, _ := tok.Claims["sub"].(string)
			if sub == "" || sub == want.Sub || tok.Claims["iss"] != e.issuer || !audienceIs(tok.Claims["aud"], c.discover["client_id"].(string)) ||
				tok.Claims["email"] != want.Claims["email"] || tok.Claims["name"] != want.Claims["name"] || tok.Claims["connector"] != c.connector {
				t.Errorf("ID token claims = %v; want sub (not the upstream %q), iss %s, aud %v, email %v, name %v, connector %s",
					tok.Claims, want.Sub, e.issuer, c.discover["client_id"], want.Claims["email"], want.Claims["name"], c.connector)
			}
			if tok.RefreshToken == "" {
				t.Fatalf("no refresh token for offline_access (scope %q)", tok.Scope)
			}

			var info struct{ Userinfo map[string]any }
			rp.must(t, map[string]any{"op": "userinfo"}, &info)
			if info.Userinfo["sub"] != sub || info.Userinfo["email"] != want.Claims["email"] || info.Userinfo["name"] != want.Claims["name"] || info.Userinfo["connector"] != c.connector {
				t.Errorf("userinfo = %v; want sub %s, email, name and connector %s", info.Userinfo, sub, c.connector)
			}

			var refreshed struct {
				Rotated      bool           `json:"rotated"`
				RefreshToken string         `json:"refresh_token"`
				Claims       map[string]any `json:"claims"`
			}
			rp.must(t, map[string]any{"op": "refresh"}, &refreshed)
			if !refreshed.Rotated {
				t.Fatal("the refresh answered no new refresh token")
			}
			if refreshed.Claims != nil && refreshed.Claims["sub"] != sub {
				t.Errorf("refreshed ID token sub = %v, want %s", refreshed.Claims["sub"], sub)
			}
			rp.must(t, map[string]any{"op": "userinfo"}, &info)

			// The first refresh token again: refused, and the grant ends.
			err = rp.call(t, map[string]any{"op": "refresh", "refresh_token": tok.RefreshToken}, nil)
			if rpErr, ok := err.(*rpError); !ok || rpErr.OAuthError != "invalid_grant" {
				t.Fatalf("the rotated-out refresh token: %v, want invalid_grant", err)
			}
			if err := rp.call(t, map[string]any{"op": "refresh"}, nil); err == nil {
				t.Fatal("the latest refresh token still works after the old one came back")
			}

			var end struct{ URL string }
			rp.must(t, map[string]any{"op": "end_session", "post_logout_redirect_uri": ocLogout, "state": "bye"}, &end)
			if q := mustURL(t, end.URL).Query(); q.Get("id_token_hint") == "" {
				t.Fatalf("end-session URL %s: want id_token_hint", end.URL)
			}
			back, err := b.walk(t, end.URL, ocLogout)
			if err != nil || back.Query().Get("state") != "bye" {
				t.Fatalf("end_session = %v, %v; want back at %s with the state", back, err, ocLogout)
			}

			// Signed out: prompt=none answers login_required, which the
			// library reports as the provider's error (its iss checked too).
			rp.must(t, map[string]any{"op": "authorize", "redirect_uri": ocCallback, "scope": ocScope, "params": map[string]string{"prompt": "none"}}, &auth)
			cb, err = b.walk(t, auth.URL, ocCallback)
			if err != nil {
				t.Fatal(err)
			}
			err = rp.call(t, map[string]any{"op": "callback", "url": cb.String()}, nil)
			if rpErr, ok := err.(*rpError); !ok || rpErr.OAuthError != "login_required" {
				t.Fatalf("prompt=none after sign-out: %v, want login_required", err)
			}
		})
	}
}

// audienceIs says whether aud names the client alone: a string or a list of
// one (OpenID Connect Core 1.0, 2: either form).
func audienceIs(aud any, client string) bool {
	switch a := aud.(type) {
	case string:
		return a == client
	case []any:
		return len(a) == 1 && a[0] == client
	}
	return false
}

// openIDClient is rp.mjs running for one test.
type openIDClient struct {
	stdin io.WriteCloser
	lines chan string
}

// startOpenIDClient runs rp.mjs; closing its input when the test ends stops it.
func startOpenIDClient(t *testing.T) *openIDClient {
	t.Helper()
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "scripts", "relying-parties", "openid-client")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client", "package.json")); err != nil {
		t.Fatalf("openid-client is not installed in %s: run scripts/setup (%v)", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("Node.js is needed to run openid-client: %v", err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "rp.mjs"))
	cmd.Dir = dir
	cmd.Stderr = testLog{t, "openid-client"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rp := &openIDClient{stdin: stdin, lines: make(chan string)}
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(rp.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			rp.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		go func() {
			for range rp.lines {
			}
		}()
		exited := make(chan error, 1)
		go func() { <-read; exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("rp.mjs exited with %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			t.Error("rp.mjs did not exit within 10s of its input closing")
		}
	})
	return rp
}

// rpError is a step openid-client refused, as rp.mjs reports it.
type rpError struct {
	Name             string `json:"name"`
	Code             string `json:"code"`
	Message          string `json:"message"`
	Cause            string `json:"cause"`
	OAuthError       string `json:"oauth_error"`
	OAuthDescription string `json:"oauth_error_description"`
	Status           int    `json:"status"`
}

func (e *rpError) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Name, e.Code, e.Message)
	if e.Cause != "" {
		s += ": " + e.Cause
	}
	if e.OAuthError != "" {
		s += fmt.Sprintf(" (%s: %s)", e.OAuthError, e.OAuthDescription)
	}
	return s
}

// call sends one command and decodes its answer into out; the error is
// openid-client's when the step was refused.
func (rp *openIDClient) call(t *testing.T, cmd map[string]any, out any) error {
	t.Helper()
	line, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("rp.mjs %s: %v", cmd["op"], err)
	}
	var answer string
	select {
	case l, ok := <-rp.lines:
		if !ok {
			t.Fatalf("rp.mjs exited during %s", cmd["op"])
		}
		answer = l
	case <-time.After(30 * time.Second):
		t.Fatalf("rp.mjs did not answer %s within 30s", cmd["op"])
	}
	var failed struct {
		Error *rpError `json:"error"`
	}
	if err := json.Unmarshal([]byte(answer), &failed); err != nil {
		t.Fatalf("rp.mjs %s answered %q: %v", cmd["op"], answer, err)
	}
	if failed.Error != nil {
		return failed.Error
	}
	if out != nil {
		if err := json.Unmarshal([]byte(answer), out); err != nil {
			t.Fatalf("rp.mjs %s answered %q: %v", cmd["op"], answer, err)
		}
	}
	return nil
}

// must is call for a step that must succeed.
func (rp *openIDClient) must(t *testing.T, cmd map[string]any, out any) {
	t.Helper()
	if err := rp.call(t, cmd, out); err != nil {
		t.Fatalf("openid-client %s: %v", cmd["op"], err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
