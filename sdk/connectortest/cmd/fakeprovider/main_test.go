package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/gobuild"
	"github.com/idplug/idplug/sdk/connectortest"
)

// TestCommand builds the command, starts it, reads what it prints and signs in
// against it with nothing but HTTP: authorization, code exchange with the printed
// client, userinfo. Then Ctrl-C stops it with exit status 0.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "fakeprovider")
	if err := gobuild.Build(context.Background(), ".", ".", bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-profile", `{"id":"manual-1","name":"Manual Tester"}`, "-client-auth", "client_secret_post")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	printed := map[string]string{}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "every authorization request") {
			break
		}
		if k, v, ok := strings.Cut(line, ": "); ok {
			printed[k] = v
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	for _, k := range []string{"authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint", "clientId", "clientSecret", "user"} {
		if printed[k] == "" {
			t.Fatalf("the command did not print %s; it printed %v", k, printed)
		}
	}
	if !strings.HasPrefix(printed["clientSecret"], "connectortest-secret-") || printed["user"] != `{"id":"manual-1","name":"Manual Tester"}` {
		t.Errorf("printed %v", printed)
	}

	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	auth := printed["authorizationEndpoint"] + "?" + url.Values{
		"client_id": {printed["clientId"]}, "redirect_uri": {"http://127.0.0.1:8080/callback/x"},
		"response_type": {"code"}, "state": {"s1"},
	}.Encode()
	resp, err := client.Get(auth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Query().Get("code") == "" || back.Query().Get("state") != "s1" {
		t.Fatalf("authorization answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	body := profileFor(t, client, printed["tokenEndpoint"], printed["userInfoEndpoint"], back.Query().Get("code"),
		"http://127.0.0.1:8080/callback/x", printed["clientId"], printed["clientSecret"])
	if body != printed["user"] {
		t.Errorf("userinfo answered %s, want the printed user", body)
	}
	// -client-auth client_secret_post: the same client with Basic is refused.
	resp, err = client.Get(auth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ = url.Parse(resp.Header.Get("Location"))
	basic, _ := http.NewRequest(http.MethodPost, printed["tokenEndpoint"], strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1:8080/callback/x"}}.Encode()))
	basic.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	basic.SetBasicAuth(printed["clientId"], printed["clientSecret"])
	if resp, err = client.Do(basic); err != nil {
		t.Fatal(err)
	}
	refusal, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(refusal), "client_secret_post") {
		t.Errorf("Basic at a client_secret_post provider: %d %s", resp.StatusCode, refusal)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after Ctrl-C: %v, want exit status 0", err)
		}
		exited <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not stop on Ctrl-C")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-paths", "/a,/b"}, {"-paths", "a,/b,/c"}, {"-profile", "{"}, {"-addr", "256.0.0.1:0"},
		{"-client-auth", "private_key_jwt"}, {"-client-auth", "none"},
		// A field that -unverified-email does not set would change nothing.
		{"-email-verified-field", "data.mail_ok"}, {"-email-verified-at-field", "confirmed_at"},
		{"-unverified-email", "-email-verified-field", "a", "-email-verified-at-field", "b"}} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// TestUnverifiedEmail: -unverified-email serves the profile's email as not
// verified, in the field the flags name, so that a connector can be tried on it
// by hand.
func TestUnverifiedEmail(t *testing.T) {
	const user = `{"id":1,"email":"ann@example.com","email_verified":true,"confirmed_at":"2012-05-23T09:05:22Z","data":{"mail_ok":true}}`
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{nil, user},
		{[]string{"-unverified-email"}, `"email_verified":false`},
		{[]string{"-unverified-email", "-email-verified-field", "data.mail_ok"}, `"data":{"mail_ok":false}`},
		{[]string{"-unverified-email", "-email-verified-at-field", "confirmed_at"}, `"confirmed_at":null`},
	} {
		prov, err := start(append([]string{"-profile", user}, tt.flags...))
		if err != nil {
			t.Fatal(err)
		}
		if got := signIn(t, prov); !strings.Contains(got, tt.want) {
			t.Errorf("%q: userinfo answered %s; want %s in it", tt.flags, got, tt.want)
		}
		prov.Close()
	}
}

// signIn signs in at prov as its client and returns the userinfo answer.
func signIn(t *testing.T, prov *connectortest.Provider) string {
	t.Helper()
	const redirect = "http://127.0.0.1:8080/callback/x"
	cb, err := prov.Authorize(prov.AuthorizationEndpoint() + "?" + url.Values{
		"client_id": {prov.ClientID()}, "redirect_uri": {redirect}, "response_type": {"code"}, "state": {"s1"},
	}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return profileFor(t, http.DefaultClient, prov.TokenEndpoint(), prov.UserInfoEndpoint(), cb["code"], redirect, prov.ClientID(), prov.ClientSecret())
}

// profileFor exchanges code at tokenEndpoint as the client (its secret in the
// form) and returns what userInfoEndpoint answers to the access token.
func profileFor(t *testing.T, client *http.Client, tokenEndpoint, userInfoEndpoint, code, redirect, clientID, secret string) string {
	t.Helper()
	resp, err := client.PostForm(tokenEndpoint, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {clientID}, "client_secret": {secret},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token answer %d: %v", resp.StatusCode, err)
	}
	req, _ := http.NewRequest(http.MethodGet, userInfoEndpoint, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(body)
}

// TestIDTokens: -id-tokens makes an OpenID Provider that says where its keys are.
func TestIDTokens(t *testing.T) {
	prov, err := start([]string{"-id-tokens"})
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	if !prov.IssuesIDTokens() {
		t.Fatal("-id-tokens made a provider without ID tokens")
	}
	resp, err := http.Get(prov.DiscoveryURL())
	if err != nil {
		t.Fatal(err)
	}
	var disco map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&disco)
	resp.Body.Close()
	if disco["issuer"] != prov.Issuer() || disco["jwks_uri"] != prov.JWKSURI() {
		t.Errorf("discovery document = %v", disco)
	}
}
