package connectortest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The OpenID Connect endpoints of a provider made WithIDTokens.
const (
	DiscoveryEndpoint Endpoint = "discovery"
	JWKSEndpoint      Endpoint = "jwks"
)

const (
	discoveryPath = "/.well-known/openid-configuration"
	jwksPath      = "/jwks"
	// idTokenLifetime is how long an ID token is valid after it is issued.
	idTokenLifetime = 10 * time.Minute
)

// WithIDTokens makes the fake provider an OpenID Provider as well: it publishes
// a discovery document at /.well-known/openid-configuration (its issuer is the
// provider's URL) and its signing key at /jwks, and a token answer for an
// authorization that asked for the openid scope carries an ID token, signed
// with RS256 (the algorithm of a client that registered none): iss, sub (the
// profile's sub, or its id), aud (the client), exp, iat, auth_time, at_hash,
// the authorization request's nonce when it sent one, and the profile's other
// fields as claims. A refresh answers with a new one, without the nonce. The
// userinfo answer to such an authorization's access token names the same sub.
//
// Give it when the connector verifies ID tokens: Run then also checks that the
// connector refuses an ID token that is forged, from another issuer, for another
// client, expired, or with another nonce or none, and an answer without one (the
// id-token checks). EditNextIDToken, ForgeNextIDToken and OmitNextIDToken make
// such answers for a test of one's own.
func WithIDTokens() ProviderOption {
	return func(s *providerSettings) { s.idTokens = true }
}

// openID is the signing side of a provider made WithIDTokens.
type openID struct {
	keyID string
	// tweaks change the next ID tokens, oldest first (EditNextIDToken,
	// ForgeNextIDToken, OmitNextIDToken).
	tweaks []idTweak
}

type idTweak struct {
	edit  func(claims map[string]any)
	forge bool
	omit  bool
}

func newOpenID() *openID { return &openID{keyID: "connectortest-" + randomHex(8)} }

// The providers of a test process share their signing key, under a key id of
// their own, and forged tokens one other key: a 2048-bit RSA key takes some
// 60 ms of CPU to make (more under the race detector), and a test run starts
// hundreds of providers. A token of one provider still fails at another: its
// key id names no key there, and its issuer is not the other's.
var (
	signingKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	forgingKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
)

// Issuer is the provider's issuer identifier, its URL, as its discovery
// document and ID tokens give it.
func (p *Provider) Issuer() string { return p.URL }

// DiscoveryURL is the address of the discovery document of a provider made
// WithIDTokens.
func (p *Provider) DiscoveryURL() string { return p.URL + discoveryPath }

// JWKSURI is the address of the key set of a provider made WithIDTokens.
func (p *Provider) JWKSURI() string { return p.URL + jwksPath }

// EditNextIDToken has edit change the claims of the next ID token the provider
// issues before it is signed (with the provider's own key), to test how a
// connector takes an ID token that is wrong in one way: an aud of another
// client, an exp in the past, another nonce. Calls queue up; ClearFailures drops
// those no token used. It needs WithIDTokens.
func (p *Provider) EditNextIDToken(edit func(claims map[string]any)) {
	p.queueIDTweak("EditNextIDToken", idTweak{edit: edit})
}

// ForgeNextIDToken makes the next ID token the provider issues signed by a key
// that is not in its key set, under the key id of the one that is, as an
// attacker who can put a token in the connector's way would make one. It needs
// WithIDTokens.
func (p *Provider) ForgeNextIDToken() { p.queueIDTweak("ForgeNextIDToken", idTweak{forge: true}) }

// OmitNextIDToken makes the next token answer that would carry an ID token carry
// none, as an attacker who strips it from the answer would: OpenID Connect Core
// 3.1.3.3 makes it part of every answer to an authorization that asked for the
// openid scope. It needs WithIDTokens.
func (p *Provider) OmitNextIDToken() { p.queueIDTweak("OmitNextIDToken", idTweak{omit: true}) }

// queueIDTweak queues t for the next ID token. Without WithIDTokens no ID token
// would take it: a test that asks for one has a mistake, said at once.
func (p *Provider) queueIDTweak(method string, t idTweak) {
	if p.openID == nil {
		panic("connectortest: " + method + " needs a provider made WithIDTokens")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.openID.tweaks = append(p.openID.tweaks, t)
}

// IssuesIDTokens says whether the provider was made WithIDTokens.
func (p *Provider) IssuesIDTokens() bool { return p.openID != nil }

// serveDiscovery answers with the discovery document (OpenID Connect Discovery 1.0).
func (p *Provider) serveDiscovery(w http.ResponseWriter) {
	auths := []string{string(ClientSecretBasic), string(ClientSecretPost)}
	switch {
	case p.settings.clientAuth != "":
		auths = []string{string(p.settings.clientAuth)}
	case p.settings.clientSecret == "":
		auths = []string{string(ClientAuthNone)}
	}
	doc := map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.AuthorizationEndpoint(),
		"token_endpoint":                        p.TokenEndpoint(),
		"userinfo_endpoint":                     p.UserInfoEndpoint(),
		"jwks_uri":                              p.JWKSURI(),
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
		"token_endpoint_auth_methods_supported": auths,
		"code_challenge_methods_supported":      []string{"S256", "plain"},
		"scopes_supported":                      []string{"openid", "profile", "email", "phone"},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// serveJWKS answers with the provider's public key.
func (p *Provider) serveJWKS(w http.ResponseWriter) {
	key, err := signingKey()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &key.PublicKey, KeyID: p.openID.keyID, Algorithm: string(jose.RS256), Use: "sig",
	}}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// wantsIDToken says whether an authorization with scope gets ID tokens.
func (p *Provider) wantsIDToken(scope string) bool { return p.openID != nil && asksOpenID(scope) }

// asksOpenID says whether scope, space-separated, names openid.
func asksOpenID(scope string) bool { return slices.Contains(strings.Fields(scope), "openid") }

// pendingIDToken is an ID token whose claims are made, to be changed by its
// tweak and signed once the provider's lock is released: a test's edit may
// call the provider.
type pendingIDToken struct {
	claims map[string]any
	tweak  idTweak
}

// idToken makes the claims of the ID token of a token answer for g, whose
// access token is access, or nil when a tweak omits it; the lock is held. A
// refresh's token carries no nonce.
func (p *Provider) idToken(g *grant, access string, refresh bool) (*pendingIDToken, error) {
	body := p.profile
	if p.unverified && p.settings.verifiedResource == "" {
		body = setValue(body, p.settings.verifiedField, p.settings.unverifiedValue())
	}
	claims := map[string]any{}
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil {
		return nil, fmt.Errorf("the profile is not a JSON object: %v", err)
	}
	sub, ok := subject(claims).(string)
	if !ok || sub == "" {
		return nil, errors.New("the profile has no sub or id (a string or a number), which the ID token's sub must be")
	}
	now := time.Now()
	sum := sha256.Sum256([]byte(access))
	for k, v := range map[string]any{
		"iss": p.URL, "sub": sub, "aud": p.settings.clientID,
		"iat": now.Unix(), "exp": now.Add(idTokenLifetime).Unix(), "auth_time": g.authTime.Unix(),
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	} {
		claims[k] = v
	}
	delete(claims, "nonce")
	if g.nonce != "" && !refresh {
		claims["nonce"] = g.nonce
	}
	pending := &pendingIDToken{claims: claims}
	if len(p.openID.tweaks) > 0 {
		pending.tweak, p.openID.tweaks = p.openID.tweaks[0], p.openID.tweaks[1:]
	}
	if pending.tweak.omit {
		return nil, nil
	}
	return pending, nil
}

// sign applies the token's tweak and signs it, as provider p (whose lock is
// not held), and records it as issued.
func (t *pendingIDToken) sign(p *Provider) (string, error) {
	if t.tweak.edit != nil {
		t.tweak.edit(t.claims)
	}
	key, err := signingKey()
	if t.tweak.forge {
		key, err = forgingKey()
	}
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(t.claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), p.openID.keyID))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.issued = append(p.issued, issuedValue{"id", token})
	p.mu.Unlock()
	return token, nil
}

// subject is the sub of a profile's ID token and userinfo answer: its sub, or
// else its id, as a string (OpenID Connect Core 2).
func subject(profile map[string]any) any {
	sub := profile["sub"]
	if sub == nil {
		sub = profile["id"]
	}
	if n, ok := sub.(json.Number); ok {
		return n.String()
	}
	return sub
}

// withSubject is a userinfo answer (an object) with its sub, added when it has none.
func withSubject(body string) string {
	var profile map[string]any
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	if d.Decode(&profile) != nil || profile["sub"] != nil {
		return body
	}
	sub := subject(profile)
	if sub == nil {
		return body
	}
	return setValue(body, "sub", sub)
}
