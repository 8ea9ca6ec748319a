package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/testport"
	"golang.org/x/oauth2"
)

// A grant ends with the connector it was made through. The operator removed
// acme (or took it off the app's connectors) and reloaded: the app's refresh
// token through acme kept getting new tokens, and its access tokens kept
// answering at userinfo, for good. Now the first use after the reload ends
// the grant: invalid_grant at the token endpoint, 401 invalid_token at
// userinfo. A grant through beta, which stays, holds.
func TestProviderGrantsEndWithTheirConnectorOnReload(t *testing.T) {
	port := testport.Free(t)
	public := "http://127.0.0.1:" + strconv.Itoa(port)
	upstream, upSecret := startUpstream(t, public)
	raw := providerConfig(t, public, port, upstream, upSecret, "")
	dir := pluginFolder(t, "oauth2")
	p := startIdplug(t, dir, raw)
	e := newOPEnv(t, p, public, upstream, nil)
	ctx := t.Context()
	b := newBrowser(t)
	grant := func(connector string) *oauth2.Token {
		t.Helper()
		verifier, ch := pkce()
		q, err := e.signIn(t, b, random(t), random(t), append(ch, oauth2.SetAuthURLParam("connector_id", connector))...)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.app.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v %v", tok, err)
		}
		return tok
	}
	refresh := func(tok *oauth2.Token) (*oauth2.Token, error) {
		old := *tok
		old.Expiry = time.Now().Add(-time.Minute)
		return e.app.TokenSource(ctx, &old).Token()
	}
	userinfo := func(tok *oauth2.Token) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	reload := func(change func(doc map[string]any, clients map[string]map[string]any)) {
		t.Helper()
		var doc map[string]any
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			t.Fatal(err)
		}
		clients := map[string]map[string]any{}
		for _, c := range doc["provider"].(map[string]any)["clients"].([]any) {
			clients[c.(map[string]any)["id"].(string)] = c.(map[string]any)
		}
		change(doc, clients)
		next, _ := json.Marshal(doc)
		p.rewrite(t, dir, string(next))
		if status, body := p.call(t, "POST", "/v1/admin/reload", "", nil); status != http.StatusOK {
			t.Fatalf("reload: %d %v", status, body)
		}
	}
	offList, removed, kept, unused := grant("acme"), grant("acme"), grant("beta"), grant("acme")

	// The app may use beta only.
	reload(func(_ map[string]any, clients map[string]map[string]any) {
		clients["app"]["connectors"] = []string{"beta"}
	})
	if _, err := refresh(offList); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh through a connector off the app's list: %v, want invalid_grant", err)
	}
	if status, _ := userinfo(offList); status != http.StatusUnauthorized {
		t.Errorf("userinfo of the ended grant: %d, want 401", status)
	}

	// acme is removed (spa, which had it alone, gets beta); the app may use
	// every connector again.
	reload(func(doc map[string]any, clients map[string]map[string]any) {
		doc["connectors"] = doc["connectors"].([]any)[1:]
		clients["spa"]["connectors"] = []string{"beta"}
	})
	if status, challenge := userinfo(removed); status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Errorf("userinfo through a removed connector: %d %q, want 401 invalid_token", status, challenge)
	}
	if _, err := refresh(removed); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh through a removed connector: %v, want invalid_grant", err)
	}

	// acme is back: a grant not used while it was gone ended all the same.
	reload(func(map[string]any, map[string]map[string]any) {})
	if _, err := refresh(unused); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh of a grant made before acme was removed and added back: %v, want invalid_grant", err)
	}
	// One made since holds.
	if _, err := refresh(grant("acme")); err != nil {
		t.Errorf("refresh of a grant made after acme came back: %v", err)
	}

	// beta's grant held through all the reloads.
	next, err := refresh(kept)
	if err != nil {
		t.Fatalf("refresh through beta: %v", err)
	}
	if status, _ := userinfo(next); status != http.StatusOK {
		t.Errorf("userinfo through beta: %d", status)
	}

	// beta maps profiles another way now (a claim added; an allow rule to
	// lock a user out would be the same change): its grant, whose claims
	// were mapped the old way, ends; one made since holds, with the new
	// mapping's claim.
	reload(func(doc map[string]any, _ map[string]map[string]any) {
		beta := doc["connectors"].([]any)[1].(map[string]any)
		beta["mapping"] = map[string]any{"claims": map[string]any{"tier": `"gold"`}}
	})
	if _, err := refresh(next); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh of a grant mapped the old way: %v, want invalid_grant", err)
	}
	if status, _ := userinfo(next); status != http.StatusUnauthorized {
		t.Errorf("userinfo of a grant mapped the old way: %d, want 401", status)
	}
	mapped, err := refresh(grant("beta"))
	if err != nil {
		t.Fatalf("refresh of a grant made under the new mapping: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+mapped.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var claims map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&claims); err != nil || claims["tier"] != "gold" {
		t.Errorf("userinfo under the new mapping: %d %v %v, want tier gold", resp.StatusCode, claims, err)
	}
}

// The app signs out with its ID token alone (no client_id), in a browser that
// signed in since as another user (through beta, the same person at the
// provider is another sub): the person confirms, and the confirmation was
// refused ("post_logout_redirect_uri needs client_id or id_token_hint"),
// leaving the browser signed in. The page's form now carries the app's
// client id, never the ID token, and the confirmation signs out back to the
// app.
func TestProviderConfirmedSignOutWithAHintAlone(t *testing.T) {
	e := startProvider(t)
	ctx := t.Context()
	b := newBrowser(t)
	verifier, ch := pkce()
	q, err := e.signIn(t, b, "s", "n", ch...)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.app.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	hint, _ := tok.Extra("id_token").(string)
	_, ch = pkce()
	if _, err := e.signIn(t, b, "s2", "n2", append(ch, oauth2.SetAuthURLParam("connector_id", "beta"))...); err != nil {
		t.Fatal(err)
	}

	resp, err := b.http.Get(e.issuer + "/end_session?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {rpLogout}, "state": {"bye"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || action == nil {
		t.Fatalf("end_session: %d, want the confirmation page:\n%s", resp.StatusCode, page)
	}
	fields := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllSubmatch(page, -1) {
		fields.Set(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
	}
	if fields.Get("client_id") != "app" || fields.Has("id_token_hint") || strings.Contains(string(page), hint) {
		t.Errorf("the page's form: %v, want client_id=app and not the ID token", fields)
	}

	req, _ := http.NewRequest(http.MethodPost, e.idplug.URL+html.UnescapeString(string(action[1])), strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.idplug.URL)
	resp, err = b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != rpLogout+"?state=bye" {
		t.Fatalf("the confirmation: %d to %q, want 303 to the app:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	// Signed out: prompt=none has nothing to go on.
	_, ch = pkce()
	q, err = e.signIn(t, b, "s3", "n3", append(ch, oauth2.SetAuthURLParam("connector_id", "beta"), oauth2.SetAuthURLParam("prompt", "none"))...)
	if err != nil || q.Get("error") != "login_required" {
		t.Fatalf("prompt=none after the sign-out: %v %v", q, err)
	}
}

// A reload is all or nothing, the OpenID Provider's signing keys included.
// Its provider was made ready before the connectors were checked, and when
// the stored key set needed a change (a retired key's window past, a next key
// missing) that wrote every key sealed under the reload's new first session
// key: a reload then refused (a connector's typo) left the running
// configuration with keys it could not open, /oidc/keys a 500 within 30
// seconds, and no way back but the new key. The refused reload now leaves the
// keys as the running configuration sealed them; the applied one reseals them.
func TestRefusedReloadLeavesTheSigningKeys(t *testing.T) {
	port := testport.Free(t)
	public := "http://127.0.0.1:" + strconv.Itoa(port)
	upstream, upSecret := startUpstream(t, public)
	dbPath := filepath.Join(t.TempDir(), "idplug.db")
	raw := providerConfig(t, public, port, upstream, upSecret, "sqlite:"+dbPath)
	dir := pluginFolder(t, "oauth2")
	p := startIdplug(t, dir, raw)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The set needs a change, as when a retired key's window passed unread.
	recs, err := st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var fewer []store.SigningKeyRecord
	dropped := false
	for _, r := range recs {
		if !dropped && r.State == store.KeyNext {
			dropped = true
			continue
		}
		fewer = append(fewer, r)
	}
	if err := st.ReplaceSigningKeys(ctx, recs, fewer); err != nil {
		t.Fatal(err)
	}
	running, err := seal.New([][]byte{[]byte(testSessionKey)})
	if err != nil {
		t.Fatal(err)
	}
	opening := func() (opened, all int) {
		t.Helper()
		rows, err := st.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if _, err := running.OpenRecord("oidc-signing-key-row:"+r.ID, r.Sealed); err == nil {
				opened++
			}
		}
		return opened, len(rows)
	}
	// The documented rotation (a new key first, the old one kept), with a typo.
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	doc["session_keys"] = []string{"new-0123456789abcdef0123456789abcdef-key", "${IDPLUG_SESSION_KEY}"}
	doc["connectors"].([]any)[0].(map[string]any)["config"].(map[string]any)["clientId"] = ""
	b, _ := json.Marshal(doc)
	p.rewrite(t, dir, string(b))
	if status, body := p.call(t, "POST", "/v1/admin/reload", "", nil); status != 400 {
		t.Fatalf("the reload with a typo: %d %v", status, body)
	}
	if opened, all := opening(); opened != all || all != len(fewer) {
		t.Fatalf("after the refused reload %d of %d keys open under the running session key (%d stored before)", opened, all, len(fewer))
	}
	// Without the typo the reload is applied, and the keys are made whole and
	// sealed under the new first key.
	doc["connectors"].([]any)[0].(map[string]any)["config"].(map[string]any)["clientId"] = "idplug"
	b, _ = json.Marshal(doc)
	p.rewrite(t, dir, string(b))
	if status, body := p.call(t, "POST", "/v1/admin/reload", "", nil); status != 200 {
		t.Fatalf("the reload: %d %v", status, body)
	}
	if opened, all := opening(); opened != 0 || all != len(recs) {
		t.Errorf("after the applied reload %d of %d keys still open under the old session key alone; want none of %d", opened, all, len(recs))
	}
	if resp, err := http.Get(public + "/oidc/keys"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/oidc/keys after the reload: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
