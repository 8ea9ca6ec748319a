package host_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

const (
	templatedPkg = "./host/testdata/templated"
	oauth2Pkg    = "./plugins/oauth2"
)

// soundTemplate is a template in the wire's JSON form, as the templated plugin
// reads it from its configuration.
const soundTemplate = `{"endpoint":"https://op.test/authorize?tenant=t","params":{"client_id":"c","response_type":"code"},
 "stateParam":"state","redirectUriParam":"redirect_uri","scopeParam":"scope","scope":"openid",
 "pkce":true,"sessionStateKey":"state","sessionRedirectUriKey":"redirectUri","sessionCodeVerifierKey":"codeVerifier"}`

func templatedConfig(template string) json.RawMessage {
	if template == "" {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(`{"template":` + template + `}`)
}

// A declared template is built by the host: the plugin's own answer (on
// plugin.test) never shows. Without one, and from a plugin older than templates,
// the host asks as before.
func TestHostBuildsTheDeclaredTemplate(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, templatedPkg), "templated")
	plugintest.Install(t, dir, plugintest.Binary(t, olderPkg), "older")
	var mu sync.Mutex
	var calls []host.CallInfo
	h := open(t, dir, host.Options{OnCall: func(ci host.CallInfo) { mu.Lock(); calls = append(calls, ci); mu.Unlock() }})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "tmpl", Plugin: "templated", Config: templatedConfig(soundTemplate)},
		{ID: "asks", Plugin: "templated", Config: templatedConfig("")},
		{ID: "old", Plugin: "older", Config: json.RawMessage(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
	auth, err := h.AuthorizationURI(ctx, "tmpl", "https://app.test/cb", "st-1", host.WithScope("email"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	q := u.Query()
	if u.Host != "op.test" || q.Get("tenant") != "t" || q.Get("state") != "st-1" || q.Get("scope") != "email" ||
		q.Get("redirect_uri") != "https://app.test/cb" || q.Get("client_id") != "c" || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("redirectTo = %s", auth.RedirectTo)
	}
	sum := sha256.Sum256([]byte(auth.Session["codeVerifier"]))
	if q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) || auth.Session["state"] != "st-1" || auth.Session["from"] != "" {
		t.Fatalf("session = %v for %s", auth.Session, auth.RedirectTo)
	}
	// A built URL is observed like a call, its refusal included.
	if _, err := h.AuthorizationURI(ctx, "tmpl", "/relative", "st-3"); codeOf(err) != sdk.CodeInvalidRequestParameters {
		t.Fatalf("relative redirect URI: err = %v", err)
	}
	mu.Lock()
	last := calls[len(calls)-1]
	mu.Unlock()
	if last.Instance != "tmpl" || last.RPC != "AuthorizationURI" || codeOf(last.Err) != sdk.CodeInvalidRequestParameters {
		t.Fatalf("observed %+v, want the refused build", last)
	}
	for id, want := range map[string]string{"asks": "https://plugin.test/", "old": "https://older.test/"} {
		auth, err := h.AuthorizationURI(ctx, id, "https://app.test/cb", "st-2")
		if err != nil || !strings.HasPrefix(auth.RedirectTo, want) {
			t.Fatalf("%s: %v, %v: want the plugin's own URL", id, auth, err)
		}
	}
}

// A template a plugin sends with an authorization URL (one it learnt while
// serving) is built by the host until it runs out, an hour at most, and then
// asked for again; one that would weaken a flow is never built, and every URL
// is asked for.
func TestHostBuildsTheCurrentTemplateUntilItRunsOut(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, templatedPkg), "templated")
	var logs bytes.Buffer
	h := open(t, dir, host.Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})})
	now := time.Unix(1_800_000_000, 0)
	var clock sync.Mutex
	host.SetClock(h, func() time.Time { clock.Lock(); defer clock.Unlock(); return now })
	pass := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	current := func(template string, ms int64) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"current":%s,"currentForMs":%d}`, template, ms))
	}
	unsound := strings.Replace(soundTemplate, `"client_id":"c"`, `"client_id":"c","state":"fixed"`, 1)
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "minute", Plugin: "templated", Config: current(soundTemplate, 60_000)},
		{ID: "forever", Plugin: "templated", Config: current(soundTemplate, 10*365*24*3600*1000)},
		{ID: "unsound", Plugin: "templated", Config: current(unsound, 60_000)},
	}); err != nil {
		t.Fatal(err)
	}
	from := func(id string) string {
		t.Helper()
		auth, err := h.AuthorizationURI(ctx, id, "https://app.test/cb", "st")
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		u, _ := url.Parse(auth.RedirectTo)
		if u.Host == "op.test" && (u.Query().Get("state") != "st" || auth.Session["codeVerifier"] == "") {
			t.Fatalf("%s: the host built %s with session %v", id, auth.RedirectTo, auth.Session)
		}
		return u.Host
	}
	steps := []struct {
		pass time.Duration
		want map[string]string
	}{
		{0, map[string]string{"minute": "plugin.test", "forever": "plugin.test", "unsound": "plugin.test"}},
		{0, map[string]string{"minute": "op.test", "forever": "op.test", "unsound": "plugin.test"}},
		{59 * time.Second, map[string]string{"minute": "op.test", "forever": "op.test"}},
		{2 * time.Second, map[string]string{"minute": "plugin.test", "forever": "op.test"}}, // the minute ran out
		{0, map[string]string{"minute": "op.test"}},
		{time.Hour, map[string]string{"minute": "plugin.test", "forever": "plugin.test"}}, // an hour at most
		{0, map[string]string{"forever": "op.test"}},
	}
	for i, st := range steps {
		pass(st.pass)
		for id, want := range st.want {
			if got := from(id); got != want {
				t.Fatalf("step %d: %s's URL came from %s, want %s", i, id, got, want)
			}
		}
	}
	if !strings.Contains(logs.String(), "authorization template that cannot be used") {
		t.Fatalf("the unsound template was not logged:\n%s", logs.String())
	}
}

// A plugin cannot use a template to weaken the flows the host builds for it: one
// that pins the state, sends the browser to a script, or overwrites the session's
// state is refused at configure time, naming what is wrong.
func TestUnsoundTemplatesAreRefused(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, templatedPkg), "templated")
	h := open(t, dir, host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	edit := func(from, to string) string { return strings.Replace(soundTemplate, from, to, 1) }
	for name, tc := range map[string]struct{ template, want string }{
		"pinned state":       {edit(`"client_id":"c"`, `"client_id":"c","state":"fixed"`), `params: "state"`},
		"script endpoint":    {edit(`https://op.test/authorize?tenant=t`, `javascript:alert(1)`), "endpoint"},
		"no state":           {edit(`"stateParam":"state",`, ``), "stateParam is required"},
		"session overwrite":  {edit(`"pkce":true`, `"pkce":true,"sessionFixed":{"state":"fixed"}`), "session.fixed"},
		"verifier elsewhere": {edit(`"sessionCodeVerifierKey":"codeVerifier"`, `"sessionCodeVerifierKey":"state"`), "session.codeVerifier"},
	} {
		err := h.Configure(ctx, []host.InstanceConfig{{ID: "bad", Plugin: "templated", Config: templatedConfig(tc.template)}})
		var ve *host.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "authorization template") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a refusal naming %q", name, err, tc.want)
		}
	}
	if len(h.Instances()) != 0 {
		t.Fatalf("a refused configuration was served: %+v", h.Instances())
	}
}

// The bundled OAuth 2.0 plugin declares its template: the host builds the same URL
// and session the plugin does (all but the fresh verifier), and builds it while
// the plugin cannot answer at all.
func TestOAuth2PluginURLsAreBuiltByTheHost(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, oauth2Pkg), "oauth2")
	h := open(t, dir, host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := json.RawMessage(`{"authorizationEndpoint":"https://op.test/authorize?tenant=t","tokenEndpoint":"https://op.test/token",
		"userInfoEndpoint":"https://op.test/me","clientId":"c 1","clientSecret":"s3cret-value","scope":"read",
		"issuer":"https://op.test","customConfig":{"prompt":"consent"}}`)
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "acme", Plugin: "oauth2", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	proc := h.Plugins()[0].Proc
	req := sdk.AuthorizationRequest{InstanceID: "acme", RedirectURI: "https://app.test/cb", State: "st", Scope: "a+b"}
	asked, err := proc.AuthorizationURI(ctx, process.Instance{ID: "acme", Version: "direct", Config: cfg}, req)
	if err != nil {
		t.Fatal(err)
	}
	built, err := h.AuthorizationURI(ctx, "acme", req.RedirectURI, req.State, host.WithScope(req.Scope))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := withoutVerifier(t, asked), withoutVerifier(t, built); a != b {
		t.Fatalf("the plugin built\n %s\nthe host built\n %s", a, b)
	}

	// Stopped, the plugin answers nothing; the host needs nothing from it.
	pid := proc.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	if _, err := h.AuthorizationURI(sctx, "acme", req.RedirectURI, "st-2"); err != nil {
		t.Fatalf("with the plugin stopped: %v", err)
	}
}

// The bundled OpenID Connect plugin, its endpoints found by discovery, hands
// the host its current template with its first URL: the host builds the next
// ones while the plugin cannot answer at all, and a sign-in started from a URL
// the host built goes through with a real provider and the plugin's checks of
// the callback (state, PKCE, nonce, issuer).
func TestOIDCDiscoveredURLsAreBuiltByTheHost(t *testing.T) {
	const redirect = "https://app.test/cb"
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{
		{ID: "rp", Secret: secret, AuthMethod: "client_secret_basic", RedirectURIs: []string{redirect}},
	}})
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/oidc"), "oidc")
	h := open(t, dir, host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, _ := json.Marshal(map[string]any{"issuer": op.Issuer, "clientId": "rp", "clientSecret": secret,
		"tokenEndpointAuthMethod": "client_secret_basic", "scope": "openid profile email"})
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "op", Plugin: "oidc", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AuthorizationURI(ctx, "op", redirect, "st-1"); err != nil { // the plugin discovers
		t.Fatal(err)
	}
	pid := h.Plugins()[0].Proc.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	auth, err := h.AuthorizationURI(sctx, "op", redirect, "st-2")
	scancel()
	if cerr := syscall.Kill(pid, syscall.SIGCONT); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("with the plugin stopped: %v", err)
	}
	if !strings.HasPrefix(auth.RedirectTo, op.AuthorizationEndpoint()+"?") || auth.Session["nonce"] == "" {
		t.Fatalf("the host built %s with session keys %v", auth.RedirectTo, slices.Sorted(maps.Keys(auth.Session)))
	}
	callback, err := op.Authorize(ctx, auth.RedirectTo, redirect)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for k, v := range callback.Query() {
		params[k] = v[0]
	}
	res, err := h.UserInfo(ctx, "op", auth.Session, params)
	if err != nil {
		t.Fatalf("sign-in from the host's URL: %v", err)
	}
	if res.UserInfo.ID != "alice" {
		t.Fatalf("signed in as %q", res.UserInfo.ID)
	}
}

// withoutVerifier is an authorization with its random part checked and taken out:
// the challenge must be the S256 of the session's verifier.
func withoutVerifier(t *testing.T, a *sdk.Authorization) string {
	t.Helper()
	u, err := url.Parse(a.RedirectTo)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(a.Session["codeVerifier"]))
	if a.Session["codeVerifier"] == "" || q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Fatalf("%s: the challenge is not the S256 of the session's verifier", a.RedirectTo)
	}
	q.Del("code_challenge")
	u.RawQuery = q.Encode()
	session := map[string]string{}
	for k, v := range a.Session {
		if k != "codeVerifier" {
			session[k] = v
		}
	}
	b, _ := json.Marshal(session)
	return u.String() + " " + string(b)
}

// A template a plugin reports while serving is used by the launch of the
// process that sent it only: a process that died and was replaced by a new one
// (same binary, fresh memory, discovery done again) is asked again. The host
// had kept building from the dead process's template for the rest of its hour.
func TestCurrentTemplateDoesNotOutliveItsProcess(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, templatedPkg), "templated")
	restarted := make(chan string, 4)
	h := open(t, dir, host.Options{OnRestart: func(name string) { restarted <- name }})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := json.RawMessage(`{"current":` + soundTemplate + `,"currentForMs":3600000}`)
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "cur", Plugin: "templated", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	from := func() string {
		t.Helper()
		auth, err := h.AuthorizationURI(ctx, "cur", "https://app.test/cb", "st")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(auth.RedirectTo)
		return u.Host
	}
	if got := from(); got != "plugin.test" {
		t.Fatalf("first URL from %s", got)
	}
	if got := from(); got != "op.test" {
		t.Fatalf("second URL from %s, want the host's build", got)
	}
	proc, _ := h.Plugin("templated")
	old := proc.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-restarted:
	case <-ctx.Done():
		t.Fatal("the plugin was not restarted")
	}
	if got := from(); got != "plugin.test" {
		t.Errorf("after the process that reported the template died and was replaced, the host still builds from its template (URL on %s)", got)
	}
}

// A template's per-request parameter names and session keys were not bounded
// by Check: the host then built URLs (and sessions) of megabytes for every
// sign-in, without calling the plugin. The configuration is refused, naming
// the field.
func TestTemplateNamesAreBounded(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, templatedPkg), "templated")
	h := open(t, dir, host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	huge := strings.Repeat("s", 1<<20)
	tmpl := strings.Replace(soundTemplate, `"stateParam":"state"`, `"stateParam":"`+huge+`"`, 1)
	tmpl = strings.Replace(tmpl, `"scopeParam":"scope"`, `"scopeParam":"`+strings.Repeat("c", 1<<20)+`"`, 1)
	err := h.Configure(ctx, []host.InstanceConfig{{ID: "big", Plugin: "templated", Config: templatedConfig(tmpl)}})
	if err == nil {
		auth, _ := h.AuthorizationURI(ctx, "big", "https://app.test/cb", "st")
		t.Fatalf("the host accepted a template with 1 MiB parameter names (a %d-byte URL for each sign-in)", len(auth.RedirectTo))
	}
	if !strings.Contains(err.Error(), "stateParam is longer than 256 bytes") && !strings.Contains(err.Error(), "in all") {
		t.Errorf("refused, but not for the names: %v", err)
	}
}
