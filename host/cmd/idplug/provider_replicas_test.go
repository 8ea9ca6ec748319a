package main

import (
	"crypto"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/internal/testport"
	"golang.org/x/oauth2"
)

// balancer sends each request for the public host to the next replica in turn,
// as a load balancer without affinity would: every step of a sign-in may land
// on another replica.
type balancer struct {
	public   string // host:port of public_url
	replicas []string
	next     atomic.Int64
}

func (b *balancer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == b.public {
		r = r.Clone(r.Context())
		r.URL.Host = b.replicas[int(b.next.Add(1))%len(b.replicas)]
		r.Host = b.public
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestProviderReplicasAndKeyRotation runs two replicas on one PostgreSQL behind
// a balancer: a sign-in started on one finishes on the other, both sign with
// the same keys, and a key rotation keeps relying parties working, those that
// cached the key set before it included.
func TestProviderReplicasAndKeyRotation(t *testing.T) {
	pg := pgtest.Start(t)
	publicPort := testport.Free(t)
	public := "http://127.0.0.1:" + strconv.Itoa(publicPort)
	upstream, upSecret := startUpstream(t, public)
	plugins := pluginFolder(t, "oauth2")
	lb := &balancer{public: "127.0.0.1:" + strconv.Itoa(publicPort)}
	var replicas []*idplugProc
	var cfgPath string
	for range 2 {
		// Port 0: the balancer reaches each replica where its log says it listens.
		p := startIdplug(t, plugins, providerConfig(t, public, 0, upstream, upSecret, pg.URL))
		u, _ := url.Parse(p.URL)
		lb.replicas = append(lb.replicas, u.Host)
		replicas = append(replicas, p)
		cfgPath = p.configPath
	}
	client := &http.Client{Transport: lb}
	e := newOPEnv(t, replicas[0], public, upstream, client)
	ctx := gooidc.ClientContext(t.Context(), client)
	keysBefore := fetchKeys(t, client, e.issuer+"/keys")

	signIn := func(keys keySet) (*oauth2.Token, *gooidc.IDToken, string) {
		t.Helper()
		b := newBrowser(t)
		b.http.Transport = lb
		verifier, ch := pkce()
		q, err := e.signIn(t, b, "st", "nonce", ch...)
		if err != nil {
			t.Fatalf("sign-in across replicas: %v\n%s\n%s", err, replicas[0].logs, replicas[1].logs)
		}
		tok, err := e.app.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		// Verified with the key set given: until a withdrawal, the one from
		// before anything, as a relying party that cached it must keep working.
		idt, err := gooidc.NewVerifier(e.issuer, &gooidc.StaticKeySet{PublicKeys: keys.public()}, &gooidc.Config{ClientID: "app"}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("the ID token does not verify with the key set cached before: %v", err)
		}
		return tok, idt, kidOf(t, raw)
	}

	tok1, _, kid1 := signIn(keysBefore)

	// A code replayed: the balancer sends the second exchange to the other replica.
	b := newBrowser(t)
	b.http.Transport = lb
	verifier, ch := pkce()
	q, err := e.signIn(t, b, "st", "nonce", ch...)
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.app.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("the code on the other replica: %v, want invalid_grant", err)
	}
	if _, err := e.rp.UserInfo(ctx, oauth2.StaticTokenSource(first)); err == nil {
		t.Fatal("after the replay on the other replica, the first exchange's token still works")
	}
	if !keysBefore.has(kid1) {
		t.Fatalf("signed with %s, which the key set does not publish", kid1)
	}

	// Rotate with the command, then have both replicas read the keys again.
	// The next key was published minutes ago at most: relying parties'
	// cached key sets may lack it, so the command refuses unless forced.
	bin := plugintest.Binary(t, "./host/cmd/idplug")
	cmd := exec.Command(bin, "keys", "rotate", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+testSessionKey)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "nothing was changed: the next signing key was published") ||
		!strings.Contains(string(out), "or force it") {
		t.Fatalf("idplug keys rotate as the next key is new: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "keys", "rotate", "--force", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+testSessionKey)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "rotated") {
		t.Fatalf("idplug keys rotate --force: %v\n%s", err, out)
	}
	for _, r := range replicas {
		if status, body := r.call(t, "POST", "/v1/admin/reload", "", nil); status != 200 {
			t.Fatalf("reload: %d %v", status, body)
		}
	}

	tok2, _, kid2 := signIn(keysBefore)
	if kid2 == kid1 {
		t.Fatalf("still signing with %s after the rotation", kid1)
	}
	keysAfter := fetchKeys(t, client, e.issuer+"/keys")
	if !keysAfter.has(kid1) || !keysAfter.has(kid2) {
		t.Fatalf("after the rotation the key set lacks the retired %s or the active %s", kid1, kid2)
	}
	// Grants from before the rotation go on.
	old := *tok1
	old.Expiry = old.Expiry.Add(-24 * 3600e9)
	refreshed, err := e.app.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatalf("refreshing a grant from before the rotation: %v", err)
	}

	// The signing key leaks: listed, withdrawn with the command, and gone from
	// both replicas after a reload. An ID token it signed (what anyone holding
	// the key could now make) is no longer this provider's.
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--config", cfgPath)...)
		cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+testSessionKey)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("keys", "list")
	if err != nil || !regexp.MustCompile(`(?m)^`+kid1+`\s+RS256\s+retired\s`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^`+kid2+`\s+RS256\s+active\s`).MatchString(out) {
		t.Fatalf("idplug keys list: %v\n%s", err, out)
	}
	hint := func(raw string) int {
		t.Helper()
		resp, err := (&http.Client{Transport: lb, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
			Get(e.issuer + "/end_session?id_token_hint=" + url.QueryEscape(raw))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	raw2, _ := tok2.Extra("id_token").(string)
	if code := hint(raw2); code >= 400 {
		t.Fatalf("end_session with an ID token of the signing key: %d", code)
	}
	if out, err := run("keys", "withdraw", "--key", "no-such-key"); err == nil || !strings.Contains(out, "nothing was changed: no signing key has the id") {
		t.Fatalf("idplug keys withdraw of an unknown key: %v\n%s", err, out)
	}
	if out, err := run("keys", "withdraw", "--key", kid2); err != nil || !strings.Contains(out, "withdrawn: "+kid2+";") {
		t.Fatalf("idplug keys withdraw: %v\n%s", err, out)
	}
	for _, r := range replicas {
		if status, body := r.call(t, "POST", "/v1/admin/reload", "", nil); status != 200 {
			t.Fatalf("reload: %d %v", status, body)
		}
	}
	keysWithdrawn := fetchKeys(t, client, e.issuer+"/keys")
	if keysWithdrawn.has(kid2) || !keysWithdrawn.has(kid1) {
		t.Fatalf("after withdrawing %s: published %v, want it gone and the retired %s kept", kid2, keysWithdrawn.Keys, kid1)
	}
	for range 2 { // once on each replica
		if code := hint(raw2); code != http.StatusBadRequest {
			t.Fatalf("end_session with an ID token of the withdrawn key: %d, want 400", code)
		}
	}
	if _, _, kid3 := signIn(keysWithdrawn); kid3 == kid2 || kid3 == kid1 {
		t.Fatalf("signing with %s after withdrawing %s", kid3, kid2)
	}
	refreshed.Expiry = time.Now().Add(-time.Hour)
	if _, err := e.app.TokenSource(ctx, refreshed).Token(); err != nil {
		t.Fatalf("refreshing a grant from before the withdrawal: %v", err)
	}
}

type keySet struct{ jose.JSONWebKeySet }

func fetchKeys(t *testing.T, c *http.Client, u string) keySet {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ks keySet
	if err := json.NewDecoder(resp.Body).Decode(&ks.JSONWebKeySet); err != nil {
		t.Fatal(err)
	}
	return ks
}

func (k keySet) has(kid string) bool { return len(k.Key(kid)) > 0 }

func (k keySet) public() []crypto.PublicKey {
	var out []crypto.PublicKey
	for _, key := range k.Keys {
		out = append(out, key.Key)
	}
	return out
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}
