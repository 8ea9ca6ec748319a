package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/idplug/idplug/bench/internal/stub"
	"github.com/idplug/idplug/bench/internal/suite"
)

// The OpenID Provider part: one full OpenID Connect sign-in, as an app (the
// relying party, this process) makes it, through `idplug serve` as an OpenID
// Provider and through Ory Hydra, side by side in interleaved rounds.
//
//   - idplug: /oidc/authorize, its login page, /sign-in/bench, the oauth2
//     connector's sign-in at the stub provider (/authorize, which signs in at
//     once), /callback/bench (the plugin exchanges the code and reads the
//     profile at the stub), /oidc/login/finish, and back to the app with a
//     code. The store is on (SQLite, the default).
//   - Hydra (serve all --dev, SQLite): /oauth2/auth, the login app (which
//     accepts the login through Hydra's admin API), /oauth2/auth again, the
//     consent app (reads the consent request and accepts the requested scopes
//     with the id_token claims name and email), /oauth2/auth again, and back to
//     the app with a code.
//
// Then, for both: the code exchanged at the token endpoint (client_secret_basic,
// PKCE S256), the ID token verified with go-oidc (key set cached, nonce checked)
// and a userinfo call. Every sign-in has a cookie jar of its own, so neither
// provider has a browser session to skip the login with.

const (
	rpClientID = "bench-rp"
	// rpClientSecret is at least as long as idplug requires of a client secret.
	rpClientSecret = "bench-rp-secret-0123456789abcdef0123456789abcdef"
	rpCallback     = "https://app.example.com/oidc/callback"
	rpName         = "Ann Example"
	rpEmail        = "ann@example.com"
	// maxHops bounds the redirects of one sign-in's front channel.
	maxHops = 16
)

// defaultHydraDSN is Hydra's database: SQLite in a file, as idplug's store. With
// only _fk=true (Hydra's documented SQLite DSN), Hydra stalls at concurrency 16:
// pop, its database layer, takes a process-wide lock for every SQLite statement,
// so a request waiting for SQLite's write lock holds it while the transaction
// that has the write lock waits for it, and requests fail with "database is
// locked" after 5s busy timeouts ("memory" fails too, with "Unable to serialize
// access"). So: WAL (as idplug's store runs SQLite), transactions that take the
// write lock when they begin (_txlock=immediate), pop's lock off (lock=false),
// and connections enough for 16 requests (max_conns, max_idle_conns; the default
// is twice the cores).
const defaultHydraDSN = "sqlite://{dir}/hydra.sqlite?_fk=true&_journal_mode=WAL&_txlock=immediate&lock=false&max_conns=32&max_idle_conns=32"

var rpScopes = []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess}

// openIDRun is one provider's measurement at one concurrency.
type openIDRun struct {
	signInRun
	// BrowserRequests is how many front-channel requests one sign-in took, up to
	// the app's callback (the token and userinfo calls not counted).
	BrowserRequests float64 `json:"browser_requests_per_sign_in"`
}

// openIDCase is one provider and the processes that serve its sign-ins, by role.
type openIDCase struct {
	key, label string
	rp         *relyingParty
	pids       map[string]int
	// procs are the servers whose log ends go with an error.
	procs []*proc
}

// openIDRoles are the CPU columns of the report, in order.
var openIDRoles = []string{"server", "plugin", "stub", "login", "client"}

// openIDEnv is everything the two providers run.
type openIDEnv struct {
	idplug  *proc
	hydra   *proc
	consent *proc
	cases   []openIDCase
}

func (e *openIDEnv) close() {
	for _, p := range []*proc{e.idplug, e.hydra, e.consent} {
		if p != nil {
			p.Stop()
		}
	}
}

// runOpenID measures the two providers round by round into rep.
func (rep *report) runOpenID(o options, tmp string, st *stubProc) error {
	logf("OpenID Provider: starting idplug serve (provider, store on) and Ory Hydra %s (SQLite)", hydraVersion(o.root))
	e, err := startOpenID(o, filepath.Join(tmp, "openid"), st)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return err
	}
	rep.Hydra = hydraVersion(o.root)
	samples := map[string]map[int][]suite.Sample{}
	cpu := map[string]map[int]map[string]time.Duration{}
	hops := map[string]map[int]int64{}
	for _, c := range e.cases {
		samples[c.key], cpu[c.key], hops[c.key] = map[int][]suite.Sample{}, map[int]map[string]time.Duration{}, map[int]int64{}
		for _, conc := range concurrencies {
			cpu[c.key][conc] = map[string]time.Duration{}
		}
	}
	per := o.duration / time.Duration(o.rounds)
	for round := range o.rounds {
		for _, conc := range concurrencies {
			for k := range e.cases {
				c := e.cases[(k+round)%len(e.cases)]
				if round == 0 && o.warmup > 0 {
					if _, _, _, err := c.measure(conc, o.warmup); err != nil {
						return err
					}
				}
				logf("round %d/%d: OpenID sign-in %s, concurrency %d, %s", round+1, o.rounds, c.key, conc, per)
				s, used, n, err := c.measure(conc, per)
				if err != nil {
					return err
				}
				samples[c.key][conc] = append(samples[c.key][conc], s)
				hops[c.key][conc] += n
				for role, d := range used {
					cpu[c.key][conc][role] += d
				}
			}
		}
	}
	rep.OpenID = map[string]map[string]openIDRun{}
	for _, c := range e.cases {
		rep.OpenID[c.key] = map[string]openIDRun{}
		for _, conc := range concurrencies {
			r := openIDRun{signInRun: signInRun{Result: suite.Summarize(samples[c.key][conc]...), CPUPerOpUs: map[string]float64{}}}
			for _, s := range samples[c.key][conc] {
				r.RoundOpsPerSec = append(r.RoundOpsPerSec, float64(s.Ops)/s.Elapsed.Seconds())
			}
			if r.Ops > 0 {
				for role, d := range cpu[c.key][conc] {
					r.CPUPerOpUs[role] = float64(d.Microseconds()) / float64(r.Ops)
				}
				r.BrowserRequests = float64(hops[c.key][conc]) / float64(r.Ops)
			}
			rep.OpenID[c.key][concKey(conc)] = r
		}
	}
	if stats, err := st.Stats(); err == nil && stats.Refused > 0 {
		return fmt.Errorf("the stub provider refused %d requests", stats.Refused)
	}
	return nil
}

// measure runs c's sign-ins at concurrency conc for d; it returns the sample,
// the CPU time of each of c's processes by role, and the browser requests made.
func (c openIDCase) measure(conc int, d time.Duration) (suite.Sample, map[string]time.Duration, int64, error) {
	roles := make([]string, 0, len(c.pids))
	ids := make([]int, 0, len(c.pids))
	for role, pid := range c.pids {
		roles = append(roles, role)
		ids = append(ids, pid)
	}
	hops0 := c.rp.hops.Load()
	m := suite.StartCPU(ids...)
	s := suite.Run(context.Background(), conc, d, func(ctx context.Context, _, _ int) error { return c.rp.signIn(ctx) })
	used := m.Stop()
	cpu := map[string]time.Duration{}
	for i, role := range roles {
		cpu[role] = used[i]
	}
	var err error
	if s.Errors > 0 {
		var logs strings.Builder
		for _, p := range c.procs {
			fmt.Fprintf(&logs, "\n%s, the end of its log:\n%s", p.name, p.tail())
		}
		err = fmt.Errorf("OpenID sign-in through %s at concurrency %d: %d sign-ins failed, the first with: %v%s", c.key, conc, s.Errors, s.FirstErr, logs.String())
	}
	return s, cpu, c.rp.hops.Load() - hops0, err
}

// startOpenID starts idplug and Hydra with their relying parties; on an error it
// also returns what it started so far, for close.
func startOpenID(o options, dir string, st *stubProc) (*openIDEnv, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e := &openIDEnv{}
	ctx := context.Background()

	// idplug serve as an OpenID Provider, the oauth2 connector against the stub.
	plugins := filepath.Join(dir, "plugins")
	if err := suite.PluginFolder(plugins, o.plugin, "oauth2"); err != nil {
		return nil, err
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	public := "http://" + listen
	cfg, _ := json.Marshal(map[string]any{
		"listen": listen, "public_url": public, "plugin_dir": plugins,
		"session_keys": []string{"${IDPLUG_SESSION_KEY}"}, "log_format": "json", "log_level": o.logLevel,
		// No store section: the default, SQLite in idplug.db beside this file.
		"connectors": []map[string]any{{"id": "bench", "plugin": "oauth2", "config": suite.ConnectorConfig(st.URL)}},
		"provider": map[string]any{"clients": []map[string]any{{
			"id": rpClientID, "secret": rpClientSecret, "redirect_uris": []string{rpCallback},
		}}},
	})
	cfgPath := filepath.Join(dir, "idplug.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(o.idplug, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+randomHex(32))
	if e.idplug, err = startProc("idplug serve", filepath.Join(dir, "idplug.log"), cmd, public+"/readyz"); err != nil {
		return e, err
	}
	kids := suite.Children(e.idplug.PID)
	if len(kids) != 1 {
		return e, fmt.Errorf("idplug serve runs %d plugin processes, want 1", len(kids))
	}
	idplugRP, err := newRelyingParty(ctx, public+"/oidc")
	if err != nil {
		return e, fmt.Errorf("idplug: %w", err)
	}
	e.cases = append(e.cases, openIDCase{key: "idplug", label: "idplug serve (provider, oauth2 plugin, stub)", rp: idplugRP,
		pids:  map[string]int{"server": e.idplug.PID, "plugin": kids[0], "stub": st.PID, "client": os.Getpid()},
		procs: []*proc{e.idplug}})

	// Hydra, its login-and-consent app, and the app's client.
	hydraRP, err := e.startHydra(ctx, o, dir)
	if err != nil {
		return e, fmt.Errorf("ory hydra: %w", err)
	}
	e.cases = append(e.cases, openIDCase{key: "hydra", label: "Ory Hydra (serve all, login/consent app)", rp: hydraRP,
		pids:  map[string]int{"server": e.hydra.PID, "login": e.consent.PID, "client": os.Getpid()},
		procs: []*proc{e.hydra, e.consent}})
	return e, nil
}

// startHydra migrates a SQLite database, starts `hydra serve all --dev` and the
// login-and-consent app, and registers the app's client.
func (e *openIDEnv) startHydra(ctx context.Context, o options, dir string) (*relyingParty, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	public, admin, app := "http://"+addrs[0], "http://"+addrs[1], "http://"+addrs[2]
	env := append(os.Environ(),
		"DSN="+strings.ReplaceAll(o.hydraDSN, "{dir}", dir),
		"SECRETS_SYSTEM="+randomHex(32),
		"URLS_SELF_ISSUER="+public,
		"URLS_LOGIN="+app+"/login",
		"URLS_CONSENT="+app+"/consent",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+port(addrs[0]),
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+port(addrs[1]),
		"SQA_OPT_OUT=true",
	)
	migrate := exec.Command(o.hydra, "migrate", "sql", "--read-from-env", "--yes")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hydra migrate sql: %v\n%s", err, tail(out, 2048))
	}

	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if e.consent, err = startProc("login/consent app", filepath.Join(dir, "consent.log"),
		exec.Command(self, "consent", "-listen", addrs[2], "-admin", admin), app+"/healthz"); err != nil {
		return nil, err
	}
	serve := exec.Command(o.hydra, "serve", "all", "--dev", "--sqa-opt-out")
	serve.Env = env
	if e.hydra, err = startProc("hydra serve", filepath.Join(dir, "hydra.log"), serve, admin+"/health/ready"); err != nil {
		return nil, err
	}
	c := suite.NewHTTPClient()
	c.Timeout = 30 * time.Second
	err = jsonCall(ctx, c, http.MethodPost, admin+"/admin/clients", map[string]any{
		"client_id": rpClientID, "client_secret": rpClientSecret,
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"redirect_uris": []string{rpCallback}, "scope": strings.Join(rpScopes, " "),
		"token_endpoint_auth_method": "client_secret_basic",
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("creating the client: %w", err)
	}
	// Discovery makes Hydra generate its ID token signing key now, not in a
	// measured round.
	return newRelyingParty(ctx, public)
}

// hydraVersion is the version of Ory Hydra that bench/hydra/go.mod requires.
func hydraVersion(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "bench", "hydra", "go.mod"))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "github.com/ory/hydra/v2" && strings.HasPrefix(f[i+1], "v") {
				return f[i+1]
			}
		}
	}
	return "?"
}

// relyingParty is the app: a confidential client with client_secret_basic,
// PKCE, state and nonce, as go-oidc and x/oauth2 make it.
type relyingParty struct {
	cfg      oauth2.Config
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	// client is the keep-alive client of the back channel and of every
	// sign-in's browser (each with its own cookie jar).
	client *http.Client
	hops   atomic.Int64
}

func newRelyingParty(ctx context.Context, issuer string) (*relyingParty, error) {
	client := suite.NewHTTPClient()
	client.Timeout = 30 * time.Second
	ctx = gooidc.ClientContext(ctx, client)
	// Hydra makes its signing key (RSA, 4096 bits) on the first discovery, which
	// can outlast a connection on a busy machine: try a few times.
	p, err := gooidc.NewProvider(ctx, issuer)
	for try := 1; err != nil && try < 5; try++ {
		time.Sleep(time.Second)
		p, err = gooidc.NewProvider(ctx, issuer)
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &relyingParty{
		cfg:      oauth2.Config{ClientID: rpClientID, ClientSecret: rpClientSecret, Endpoint: ep, RedirectURL: rpCallback, Scopes: rpScopes},
		provider: p,
		verifier: p.Verifier(&gooidc.Config{ClientID: rpClientID}),
		client:   client,
	}, nil
}

// signIn is one full sign-in with a fresh cookie jar.
func (rp *relyingParty) signIn(ctx context.Context) error {
	ctx = gooidc.ClientContext(ctx, rp.client)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: rp.client.Transport, Jar: jar, Timeout: rp.client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	state, nonce, verifier := randomText(), randomText(), oauth2.GenerateVerifier()
	next := rp.cfg.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	var back url.Values
	for hop := 0; back == nil; hop++ {
		if hop == maxHops {
			return errors.New("more than 16 redirects")
		}
		loc, err := redirectOf(ctx, browser, next)
		rp.hops.Add(1)
		if err != nil {
			return err
		}
		if s := loc.String(); strings.HasPrefix(s, rpCallback+"?") {
			back = loc.Query()
		} else {
			next = s
		}
	}
	if e := back.Get("error"); e != "" {
		return fmt.Errorf("the provider answered %s: %s", e, back.Get("error_description"))
	}
	if back.Get("state") != state || back.Get("code") == "" {
		return fmt.Errorf("the callback has state %q and code %q", back.Get("state"), back.Get("code"))
	}
	tok, err := rp.cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return fmt.Errorf("ID token: %w", err)
	}
	var claims struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		return err
	}
	if idt.Nonce != nonce || idt.Subject == "" || claims.Name != rpName || claims.Email != rpEmail {
		return fmt.Errorf("ID token: nonce %q sub %q name %q email %q", idt.Nonce, idt.Subject, claims.Name, claims.Email)
	}
	if tok.RefreshToken == "" {
		return errors.New("no refresh token for offline_access")
	}
	info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if info.Subject != idt.Subject || info.Email != rpEmail {
		return fmt.Errorf("userinfo: sub %q email %q, want %q %q", info.Subject, info.Email, idt.Subject, rpEmail)
	}
	return nil
}

// redirectOf GETs u and returns where it redirects to.
func redirectOf(ctx context.Context, c *http.Client, u string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 300 || resp.StatusCode >= 400 {
		return nil, fmt.Errorf("GET %s: %s: %s", req.URL.Path, resp.Status, tail(body, 300))
	}
	return resp.Location()
}

// consentMain is the login-and-consent app of Hydra's sign-ins, a process of
// its own: it accepts every login (with the stub's user as subject) and every
// consent (the requested scopes, with name and email in the ID token) through
// Hydra's admin API, and sends the browser on.
func consentMain(args []string) {
	fs := flag.NewFlagSet("consent", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "where to listen")
	admin := fs.String("admin", "", "Hydra's admin URL")
	_ = fs.Parse(args)
	c := suite.NewHTTPClient()
	c.Timeout = 30 * time.Second
	type redirect struct {
		RedirectTo string `json:"redirect_to"`
	}
	send := func(w http.ResponseWriter, r *http.Request, to redirect, err error) {
		if err != nil || to.RedirectTo == "" {
			http.Error(w, fmt.Sprintf("hydra: %v", err), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.RedirectTo, http.StatusFound)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		q := "?login_challenge=" + url.QueryEscape(r.URL.Query().Get("login_challenge"))
		var to redirect
		err := jsonCall(r.Context(), c, http.MethodPut, *admin+"/admin/oauth2/auth/requests/login/accept"+q,
			map[string]any{"subject": stub.UserID, "remember": false}, &to)
		send(w, r, to, err)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		q := "?consent_challenge=" + url.QueryEscape(r.URL.Query().Get("consent_challenge"))
		var req struct {
			Scope    []string `json:"requested_scope"`
			Audience []string `json:"requested_access_token_audience"`
		}
		var to redirect
		err := jsonCall(r.Context(), c, http.MethodGet, *admin+"/admin/oauth2/auth/requests/consent"+q, nil, &req)
		if err == nil {
			err = jsonCall(r.Context(), c, http.MethodPut, *admin+"/admin/oauth2/auth/requests/consent/accept"+q, map[string]any{
				"grant_scope": req.Scope, "grant_access_token_audience": req.Audience, "remember": false,
				"session": map[string]any{"id_token": map[string]string{"name": rpName, "email": rpEmail}},
			}, &to)
		}
		send(w, r, to, err)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fatal(srv.ListenAndServe())
}

// jsonCall sends body (if not nil) as JSON and decodes a 2xx answer into out
// (if not nil).
func jsonCall(ctx context.Context, c *http.Client, method, u string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %s: %s", method, req.URL.Path, resp.Status, tail(data, 300))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// proc is a server process of the OpenID part, its output in a log file (so
// that no process measured here spends time reading it).
type proc struct {
	name string
	PID  int
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startProc starts cmd with its output in logPath and returns once ready
// answers 200 (within 60s).
func startProc(name, logPath string, cmd *exec.Cmd, ready string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	suite.DieWithParent(cmd, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, PID: cmd.Process.Pid, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before it was ready:\n%s", name, p.tail())
		default:
		}
		if resp, err := client.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("%s was not ready within 60s:\n%s", name, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for the process to exit (SIGKILL after 30s).
func (p *proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	return tail(b, 4096)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomText is a state or nonce: 16 random bytes, base64url.
func randomText() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
