// Package oidctest runs a real OpenID Provider on loopback for tests.
//
// The provider is scripts/oidc-provider/server.mjs, a small Node.js program
// built on the oidc-provider package. Its dependencies must be installed once
// per checkout:
//
//	npm ci --prefix scripts/oidc-provider
//
// Start launches one provider process per call and stops it when the test
// finishes:
//
//	op := oidctest.Start(t, oidctest.Config{
//		Clients: []oidctest.Client{{
//			ID:           "web",
//			Secret:       oidctest.NewClientSecret(t),
//			AuthMethod:   "client_secret_post",
//			RedirectURIs: []string{"http://127.0.0.1:8080/callback"},
//		}},
//	})
//	callback, err := op.Authorize(ctx, authURL, "http://127.0.0.1:8080/callback")
package oidctest

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/internal/plugintest"
)

// Interaction modes of the provider.
const (
	// InteractionsAuto signs the End-User in without any page: as the
	// account named by the login_hint authorization parameter, or else as
	// the first configured account. An unknown login_hint ends the request
	// with an access_denied error response. Consent is granted automatically.
	InteractionsAuto = "auto"
	// InteractionsForm shows an HTML sign-in page (inputs #username and
	// #password, button #sign-in, and #cancel to deny). Any non-empty
	// password is accepted for a configured account. Consent is granted
	// automatically.
	InteractionsForm = "form"
)

const (
	// Node on a loaded machine: as long as PostgreSQL gets (internal/pgtest).
	startTimeout    = 60 * time.Second
	stopTimeout     = 10 * time.Second
	httpTimeout     = 15 * time.Second
	maxRedirects    = 20
	scriptDir       = "scripts/oidc-provider"
	installHint     = "npm ci --prefix scripts/oidc-provider"
	loopbackAddress = "127.0.0.1"
)

// Config describes the provider to start.
type Config struct {
	// Clients are the registered clients.
	Clients []Client
	// Accounts are the End-Users that can sign in. When empty, the single
	// account returned by DefaultAccount is used.
	Accounts []Account
	// Interactions is InteractionsAuto (the default when empty) or
	// InteractionsForm.
	Interactions string
	// KeyRotation turns on Provider.RotateKeys.
	KeyRotation bool
}

// Client is a registered client. It is turned into oidc-provider client
// metadata; fields left empty get the defaults described below.
type Client struct {
	// ID is the client_id. Required.
	ID string
	// Secret is the client_secret. Use at least 64 bytes if the client
	// authenticates with client_secret_jwt and HS512 (see NewClientSecret).
	Secret string
	// AuthMethod is the token_endpoint_auth_method. Default:
	// "client_secret_basic" when Secret is set, else "private_key_jwt" when
	// JWKS is set, else "none" (a public client, which must use PKCE).
	AuthMethod string
	// AuthSigningAlg is the token_endpoint_auth_signing_alg. Optional; when
	// empty any supported algorithm is accepted.
	AuthSigningAlg string
	// RedirectURIs are the redirect_uris. Required for the code flow.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the post_logout_redirect_uris.
	PostLogoutRedirectURIs []string
	// GrantTypes are the grant_types. Default: authorization_code and
	// refresh_token.
	GrantTypes []string
	// ResponseTypes are the response_types. Default: code.
	ResponseTypes []string
	// JWKS holds the client's keys for private_key_jwt. Only the public
	// parts are sent to the provider.
	JWKS *jose.JSONWebKeySet
	// IDTokenSignedResponseAlg is the id_token_signed_response_alg.
	// Default: RS256. ES256 and EdDSA are also available.
	IDTokenSignedResponseAlg string
	// ApplicationType is "web" (the default) or "native".
	ApplicationType string
	// Name is the client_name shown on the sign-in page.
	Name string
	// Metadata holds any other client metadata, passed to oidc-provider as
	// is. The fields above take precedence over the same keys here.
	Metadata map[string]any
}

// Account is an End-User that can sign in.
type Account struct {
	// Sub is the subject identifier, also the username on the sign-in page
	// and the value to pass as login_hint.
	Sub string `json:"sub"`
	// Claims are the standard claims released for the granted scopes:
	// profile (name, given_name, family_name, picture, ...), email (email,
	// email_verified), phone (phone_number, phone_number_verified) and
	// address (address).
	Claims map[string]any `json:"claims,omitempty"`
	// ACR is the authentication context class the provider asserts (the ID
	// token's acr) when this account signs in; none when empty.
	ACR string `json:"acr,omitempty"`
}

// DefaultAccount returns the account used when Config.Accounts is empty.
func DefaultAccount() Account {
	return Account{
		Sub: "alice",
		Claims: map[string]any{
			"name":                  "Alice Example",
			"given_name":            "Alice",
			"family_name":           "Example",
			"email":                 "alice@example.com",
			"email_verified":        true,
			"picture":               "https://example.com/alice.png",
			"phone_number":          "+15555550100",
			"phone_number_verified": true,
		},
	}
}

// Provider is a running OpenID Provider.
type Provider struct {
	// Issuer is the issuer identifier, http://127.0.0.1:PORT.
	Issuer string

	discovery []byte
	metadata  struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		UserinfoEndpoint      string `json:"userinfo_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
		EndSessionEndpoint    string `json:"end_session_endpoint"`
		RevocationEndpoint    string `json:"revocation_endpoint"`
	}
}

// AuthorizationEndpoint returns the authorization_endpoint from the
// provider's discovery document.
func (p *Provider) AuthorizationEndpoint() string { return p.metadata.AuthorizationEndpoint }

// TokenEndpoint returns the token_endpoint from the provider's discovery
// document.
func (p *Provider) TokenEndpoint() string { return p.metadata.TokenEndpoint }

// UserinfoEndpoint returns the userinfo_endpoint from the provider's
// discovery document.
func (p *Provider) UserinfoEndpoint() string { return p.metadata.UserinfoEndpoint }

// JWKSURI returns the jwks_uri from the provider's discovery document.
func (p *Provider) JWKSURI() string { return p.metadata.JWKSURI }

// EndSessionEndpoint returns the end_session_endpoint (RP-initiated logout)
// from the provider's discovery document.
func (p *Provider) EndSessionEndpoint() string { return p.metadata.EndSessionEndpoint }

// RevocationEndpoint returns the revocation_endpoint from the provider's
// discovery document.
func (p *Provider) RevocationEndpoint() string { return p.metadata.RevocationEndpoint }

// Discovery returns a fresh copy of the provider's discovery document
// (/.well-known/openid-configuration), as fetched when it started.
func (p *Provider) Discovery() map[string]any {
	var doc map[string]any
	if err := json.Unmarshal(p.discovery, &doc); err != nil {
		panic(fmt.Sprintf("oidctest: decoding stored discovery document: %v", err))
	}
	return doc
}

// Start runs a provider for the duration of the test: it finds the
// repository root (the nearest directory above the working directory holding
// go.mod), runs `node scripts/oidc-provider/server.mjs --config -
// --exit-with-parent` there with cfg on stdin, waits for the issuer line and
// fetches the discovery document. The provider's stderr is copied to t.Log.
//
// It fails the test if the provider cannot be started, including when its
// Node.js dependencies are not installed. A cleanup registered on t stops the
// process (SIGTERM, then SIGKILL if it does not exit in time) and waits for
// it.
func Start(t testing.TB, cfg Config) *Provider {
	t.Helper()

	input, err := cfg.serverConfig()
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}

	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	dir := filepath.Join(root, filepath.FromSlash(scriptDir))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		t.Fatalf("oidctest: the oidc-provider package is not installed in %s: run `%s` from the repository root (%v)", dir, installHint, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("oidctest: Node.js is required to run the test OpenID Provider: %v", err)
	}

	cmd := exec.Command(node, filepath.Join(dir, "server.mjs"), "--config", "-", "--exit-with-parent")
	cmd.Dir = root
	cmd.Stdin = bytes.NewReader(input)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("oidctest: starting %s: %v", node, err)
	}

	tail := &lineTail{max: 20}
	first := make(chan issuerLine, 1)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			t.Logf("oidc-provider: %s", line)
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		defer readers.Done()
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		first <- issuerLine{line: line, err: err}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			t.Logf("oidc-provider (unexpected stdout): %s", sc.Text())
		}
		_, _ = io.Copy(io.Discard, r)
	}()

	t.Cleanup(func() {
		stop(t, cmd, &readers)
	})

	var got issuerLine
	select {
	case got = <-first:
	case <-time.After(startTimeout):
		t.Fatalf("oidctest: the provider did not report its issuer within %v; last output:\n%s", startTimeout, tail.String())
	}
	if got.err != nil {
		waitFor(&readers, stopTimeout)
		t.Fatalf("oidctest: the provider exited before reporting its issuer (%v); last output:\n%s", got.err, tail.String())
	}
	var line struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(got.line), &line); err != nil || line.Issuer == "" {
		t.Fatalf("oidctest: unexpected first line from the provider %q: %v", got.line, err)
	}

	p := &Provider{Issuer: line.Issuer}
	if err := p.fetchDiscovery(); err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return p
}

type issuerLine struct {
	line string
	err  error
}

// stop sends SIGTERM, waits for the process to exit (killing it if it does
// not exit in time) and for its output to be drained, so that nothing is
// logged after the test ends and no process is left behind.
func stop(t testing.TB, cmd *exec.Cmd, readers *sync.WaitGroup) {
	exited := make(chan error, 1)
	go func() {
		readers.Wait()
		exited <- cmd.Wait()
	}()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case err := <-exited:
		if err != nil {
			t.Logf("oidctest: provider exited: %v", err)
		}
	case <-timer.C:
		t.Logf("oidctest: provider did not stop within %v after SIGTERM; killing it", stopTimeout)
		_ = cmd.Process.Kill()
		<-exited
	}
}

func waitFor(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
}

// lineTail keeps the last lines written by the provider for error messages.
type lineTail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (l *lineTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if len(l.lines) > l.max {
		l.lines = l.lines[len(l.lines)-l.max:]
	}
}

func (l *lineTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "(no output)"
	}
	return strings.Join(l.lines, "\n")
}

func (c Config) serverConfig() ([]byte, error) {
	interactions := c.Interactions
	if interactions == "" {
		interactions = InteractionsAuto
	}
	if interactions != InteractionsAuto && interactions != InteractionsForm {
		return nil, fmt.Errorf("unknown Interactions mode %q", c.Interactions)
	}
	accounts := c.Accounts
	if len(accounts) == 0 {
		accounts = []Account{DefaultAccount()}
	}
	for i, a := range accounts {
		if a.Sub == "" {
			return nil, fmt.Errorf("account %d has no Sub", i)
		}
	}
	clients := make([]map[string]any, 0, len(c.Clients))
	for i, cl := range c.Clients {
		md, err := cl.metadata()
		if err != nil {
			return nil, fmt.Errorf("client %d (%q): %w", i, cl.ID, err)
		}
		clients = append(clients, md)
	}
	return json.Marshal(map[string]any{
		"host":         loopbackAddress,
		"port":         0,
		"clients":      clients,
		"accounts":     accounts,
		"interactions": interactions,
		"keyRotation":  c.KeyRotation,
	})
}

func (c Client) metadata() (map[string]any, error) {
	if c.ID == "" {
		return nil, errors.New("client has no ID")
	}
	md := make(map[string]any, len(c.Metadata)+10)
	for k, v := range c.Metadata {
		md[k] = v
	}
	set := func(key, value string) {
		if value != "" {
			md[key] = value
		}
	}
	setList := func(key string, values, def []string) {
		if len(values) == 0 {
			values = def
		}
		if values != nil {
			md[key] = values
		}
	}

	md["client_id"] = c.ID
	set("client_secret", c.Secret)
	method := c.AuthMethod
	if method == "" {
		switch {
		case c.Secret != "":
			method = "client_secret_basic"
		case c.JWKS != nil:
			method = "private_key_jwt"
		default:
			method = "none"
		}
	}
	md["token_endpoint_auth_method"] = method
	set("token_endpoint_auth_signing_alg", c.AuthSigningAlg)
	setList("redirect_uris", c.RedirectURIs, nil)
	setList("post_logout_redirect_uris", c.PostLogoutRedirectURIs, nil)
	setList("grant_types", c.GrantTypes, []string{"authorization_code", "refresh_token"})
	setList("response_types", c.ResponseTypes, []string{"code"})
	set("id_token_signed_response_alg", c.IDTokenSignedResponseAlg)
	set("application_type", c.ApplicationType)
	set("client_name", c.Name)

	if c.JWKS != nil {
		public := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(c.JWKS.Keys))}
		for i, k := range c.JWKS.Keys {
			pub := k.Public()
			if !pub.Valid() {
				return nil, fmt.Errorf("JWKS key %d (kid %q) has no public part", i, k.KeyID)
			}
			public.Keys = append(public.Keys, pub)
		}
		md["jwks"] = public
	}
	return md, nil
}

func (p *Provider) fetchDiscovery() error {
	client := &http.Client{Timeout: httpTimeout}
	resp, err := client.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		return fmt.Errorf("fetching the discovery document: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the discovery document: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the discovery document: %s: %s", resp.Status, snippet(body))
	}
	if err := json.Unmarshal(body, &p.metadata); err != nil {
		return fmt.Errorf("decoding the discovery document: %w", err)
	}
	if p.metadata.Issuer != p.Issuer {
		return fmt.Errorf("discovery document issuer %q does not match %q", p.metadata.Issuer, p.Issuer)
	}
	p.discovery = body
	return nil
}

// Authorize performs a browserless sign-in: it requests authURL (an
// authorization request to this provider's authorization endpoint) and
// follows the provider's redirects, keeping cookies, until one points at
// redirectURI. That redirect is returned without being requested; it carries
// code, state and iss, or error and error_description for an error response
// (which is not a Go error).
//
// It is meant for InteractionsAuto. Each call uses a new cookie jar, so a new
// provider session. Any other response on the way (an error page, or the
// sign-in page of InteractionsForm) is returned as an error with its status
// and the start of its text.
func (p *Provider) Authorize(ctx context.Context, authURL string, redirectURI string) (*url.URL, error) {
	if redirectURI == "" {
		return nil, errors.New("oidctest: Authorize: empty redirect URI")
	}
	issuer, err := url.Parse(p.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidctest: Authorize: %w", err)
	}
	next, err := url.Parse(authURL)
	if err != nil {
		return nil, fmt.Errorf("oidctest: Authorize: %w", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("oidctest: Authorize: %w", err)
	}
	client := &http.Client{
		Jar:     jar,
		Timeout: httpTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}

	for hop := 0; hop < maxRedirects; hop++ {
		if next.Scheme != issuer.Scheme || next.Host != issuer.Host {
			return nil, fmt.Errorf("oidctest: Authorize: redirected away from the provider to %s", next)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("oidctest: Authorize: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("oidctest: Authorize: %w", err)
		}
		body, readErr := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
		resp.Body.Close()

		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
			http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("oidctest: Authorize: %s from %s: %w", resp.Status, next.Path, err)
			}
			if strings.HasPrefix(loc.String(), redirectURI) {
				return loc, nil
			}
			next = loc
		default:
			if readErr != nil {
				return nil, fmt.Errorf("oidctest: Authorize: %s from %s (reading body: %v)", resp.Status, next.Path, readErr)
			}
			return nil, fmt.Errorf("oidctest: Authorize: %s from %s: %s", resp.Status, next.Path, snippet(body))
		}
	}
	return nil, fmt.Errorf("oidctest: Authorize: more than %d redirects without reaching %s", maxRedirects, redirectURI)
}

var (
	htmlBlocks     = regexp.MustCompile(`(?is)<(?:style|script|head)\b[^>]*>.*?</(?:style|script|head)>`)
	htmlTags       = regexp.MustCompile(`(?s)<[^>]*>`)
	manyWhitespace = regexp.MustCompile(`\s+`)
)

// snippet turns the start of a response body into one line of text.
func snippet(body []byte) string {
	text := string(body)
	if strings.Contains(text, "<") {
		text = htmlBlocks.ReplaceAllString(text, " ")
		text = htmlTags.ReplaceAllString(text, " ")
		text = html.UnescapeString(text)
	}
	text = strings.TrimSpace(manyWhitespace.ReplaceAllString(text, " "))
	const max = 500
	if len(text) > max {
		text = text[:max] + "..."
	}
	if text == "" {
		return "(empty body)"
	}
	return text
}

// NewClientSecret returns a random 64-character client secret, long enough
// for every HMAC algorithm (HS512 needs a 64-byte key).
func NewClientSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewRSAKey returns a new 2048-bit RSA key and a JWKS holding its public
// part (alg RS256, use sig, kid set to the RFC 7638 thumbprint), ready for
// Client.JWKS. Sign with the same kid.
func NewRSAKey(t testing.TB) (*rsa.PrivateKey, *jose.JSONWebKeySet) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return key, publicJWKS(t, &key.PublicKey, string(jose.RS256))
}

// NewECKey returns a new P-256 key and a JWKS holding its public part (alg
// ES256, use sig, kid set to the RFC 7638 thumbprint), ready for Client.JWKS.
func NewECKey(t testing.TB) (*ecdsa.PrivateKey, *jose.JSONWebKeySet) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return key, publicJWKS(t, &key.PublicKey, string(jose.ES256))
}

func publicJWKS(t testing.TB, pub crypto.PublicKey, alg string) *jose.JSONWebKeySet {
	t.Helper()
	jwk := jose.JSONWebKey{Key: pub, Algorithm: alg, Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}}
}
