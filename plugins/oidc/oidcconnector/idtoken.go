package oidcconnector

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"regexp"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/idplug/idplug/sdk"
)

// maxIDTokenBytes caps what is parsed of an ID token.
const maxIDTokenBytes = 64 << 10

// Refusals of an ID token: each is social_invalid_id_token with the check that
// failed in Details["check"].
const (
	checkMalformed    = "malformed"
	checkAlgorithm    = "algorithm"
	checkUnknownKey   = "unknown_key"
	checkSignature    = "signature"
	checkIssuer       = "issuer"
	checkAudience     = "audience"
	checkAZP          = "azp"
	checkExpired      = "expired"
	checkIssuedAt     = "issued_at"
	checkNotBefore    = "not_before"
	checkTooOld       = "max_token_age"
	checkAuthTime     = "auth_time"
	checkHostedDomain = "hosted_domain"
	checkTenant       = "tenant"
	checkACR          = "acr"
	checkNonce        = "nonce"
	checkAccessHash   = "at_hash"
	checkSubject      = "subject"
	checkType         = "typ"
	checkCritical     = "crit"
	checkMissingToken = "missing"
)

func refuse(check, format string, args ...any) *sdk.Error {
	return sdk.Errorf(sdk.CodeSocialIDTokenInvalid, "ID token refused: "+format, args...).WithDetail("check", check)
}

// idClaims are the claims the checks and the profile read.
type idClaims struct {
	Issuer    string
	Subject   string
	Audience  json.RawMessage
	AZP       string
	Expiry    *json.Number
	IssuedAt  *json.Number
	NotBefore *json.Number
	AuthTime  *json.Number
	Nonce     *string
	AtHash    string
	TenantID  string
	// HostedDomain is Google's hd: the Workspace domain of the account.
	HostedDomain string
	// ACR is the authentication context class the provider says the user
	// signed in with.
	ACR string
}

// read decodes the claims as go-jose reads JSON, and as the header is read
// (jws.go): members by their exact names (RFC 7519 section 4), a name given twice
// refused. encoding/json matched names without regard to case and kept the last: a
// signed "ISS" after the real "iss" was the one checked, while rawData carried the
// other.
func (c *idClaims) read(payload []byte) error {
	var m struct {
		Issuer    string              `json:"iss"`
		Subject   string              `json:"sub"`
		Audience  josejson.RawMessage `json:"aud"`
		AZP       string              `json:"azp"`
		Expiry    *josejson.Number    `json:"exp"`
		IssuedAt  *josejson.Number    `json:"iat"`
		NotBefore *josejson.Number    `json:"nbf"`
		AuthTime  *josejson.Number    `json:"auth_time"`
		Nonce     *string             `json:"nonce"`
		AtHash    string              `json:"at_hash"`
		TenantID  string              `json:"tid"`
		HD        string              `json:"hd"`
		ACR       string              `json:"acr"`
	}
	if err := josejson.Unmarshal(payload, &m); err != nil {
		return refuse(checkMalformed, "its claims are not a valid JSON object: %v", err)
	}
	if err := refuseCaseVariants(payload); err != nil {
		return err
	}
	*c = idClaims{
		Issuer: m.Issuer, Subject: m.Subject, Audience: json.RawMessage(m.Audience), AZP: m.AZP,
		Expiry: (*json.Number)(m.Expiry), IssuedAt: (*json.Number)(m.IssuedAt), NotBefore: (*json.Number)(m.NotBefore),
		AuthTime: (*json.Number)(m.AuthTime), Nonce: m.Nonce, AtHash: m.AtHash, TenantID: m.TenantID, HostedDomain: m.HD, ACR: m.ACR,
	}
	return nil
}

// checkedClaims are the claims the checks and the profile's id read.
var checkedClaims = []string{"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "auth_time", "nonce", "at_hash", "tid", "hd", "acr"}

// refuseCaseVariants refuses a token that names a checked claim a second time,
// under a name that differs only in case ("Sub", or "ſub", which folds to sub):
// whoever reads rawData with a decoder that matches names without regard to case
// (encoding/json's) would take the other one.
func refuseCaseVariants(payload []byte) error {
	var members map[string]josejson.RawMessage
	if err := josejson.Unmarshal(payload, &members); err != nil {
		return refuse(checkMalformed, "its claims are not a valid JSON object: %v", err)
	}
	for name := range members {
		for _, claim := range checkedClaims {
			if name != claim && strings.EqualFold(name, claim) {
				return refuse("ambiguous_"+claim, "it names %s twice, as %q and %q, names that differ only in case", claim, claim, clean(name))
			}
		}
	}
	return nil
}

// header is the JOSE header, read before anything is trusted to name a refusal
// (by its UnmarshalJSON, in jws.go).
type header struct {
	Alg  string
	Kid  string
	Typ  string
	Crit []string
}

// verifiedToken is an ID token that passed every check.
type verifiedToken struct {
	claims idClaims
	// raw is the whole claims object, for the profile's rawData.
	raw json.RawMessage
}

// expectation is what one ID token is checked against.
type expectation struct {
	endpoints *endpoints
	// nonce is the session's; empty only on refresh, where none is sent.
	nonce       string
	accessToken string
	// refresh is a refreshed token: its auth_time and acr are the sign-in's
	// (OIDC Core 12.2), checked against max_age and requireAcr at the sign-in,
	// not at every refresh after it.
	refresh bool
}

// verify runs every check of OIDC Core 3.1.3.7 on raw: signature by an allowed
// algorithm and a key of the provider (or the client secret, when configured),
// iss, aud, azp, exp, iat, nbf, nonce and at_hash.
func (in *Instance) verify(ctx context.Context, raw string, want expectation) (*verifiedToken, error) {
	v := &in.verification
	if raw == "" {
		return nil, refuse(checkMissingToken, "the token endpoint returned no id_token; is openid in the scope?")
	}
	if len(raw) > maxIDTokenBytes {
		return nil, refuse(checkMalformed, "it is larger than %d bytes", maxIDTokenBytes)
	}
	h, err := readHeader(raw)
	if err != nil {
		return nil, err
	}
	allowed := v.allowedAlgorithms(want.endpoints)
	switch {
	case strings.EqualFold(h.Alg, "none"):
		return nil, refuse(checkAlgorithm, "it is unsigned (alg none)")
	case !slices.Contains(allowed, h.Alg):
		return nil, refuse(checkAlgorithm, "it is signed with %q, which is not allowed (allowed: %s)", clean(h.Alg), strings.Join(allowed, ", ")).
			WithDetail("alg", clean(h.Alg))
	case len(h.Crit) > 0:
		return nil, refuse(checkCritical, "it names critical header parameters (%s) that are not understood", clean(strings.Join(h.Crit, ", ")))
	case v.typ != "" && !strings.EqualFold(strings.TrimPrefix(strings.ToLower(h.Typ), "application/"), strings.TrimPrefix(strings.ToLower(v.typ), "application/")):
		return nil, refuse(checkType, "its typ is %q, not %q", clean(h.Typ), v.typ)
	}

	// One pass over the token: its parts, the signature, then the claims.
	jws, err := splitJWS(raw)
	if err != nil {
		return nil, refuse(checkMalformed, "%v", err)
	}
	ks := &signatureCheck{in: in, endpoints: want.endpoints, header: h}
	if err := ks.verify(ctx, jws); err != nil {
		return nil, err
	}
	payload := jws.payload
	out := verifiedToken{raw: payload}
	if err := out.claims.read(payload); err != nil {
		return nil, err
	}
	if err := v.checkClaims(&out.claims, in.expectedIssuers(want.endpoints), want.nonce, want.refresh); err != nil {
		return nil, err
	}
	if out.claims.AtHash != "" && want.accessToken != "" && !atHashMatches(h.Alg, out.claims.AtHash, want.accessToken) {
		return nil, refuse(checkAccessHash, "its at_hash does not match the access token")
	}
	return &out, nil
}

// allowedAlgorithms are the configured algorithms, or else the provider's
// advertised asymmetric ones, or else RS256 (OIDC Core 3.1.3.7 step 7).
func (v *verification) allowedAlgorithms(e *endpoints) []string {
	if len(v.algorithms) > 0 {
		return v.algorithms
	}
	var out []string
	for _, alg := range e.Algorithms {
		if slices.Contains(asymmetricAlgorithms, alg) {
			out = append(out, alg)
		}
	}
	if len(out) == 0 {
		out = []string{"RS256"}
	}
	return out
}

// expectedIssuers are the iss values accepted: the discovered issuer, or the
// configured list.
func (in *Instance) expectedIssuers(e *endpoints) []string {
	if e.Issuer != "" {
		return append([]string{e.Issuer}, in.provider.extraIssuers...)
	}
	return in.provider.issuers
}

var tenantIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (v *verification) checkClaims(c *idClaims, issuers []string, nonce string, refresh bool) error {
	if !issuerMatches(c, issuers) {
		return refuse(checkIssuer, "its iss %q is not the provider's %q", clean(c.Issuer), strings.Join(issuers, `" or "`)).
			WithDetail("iss", clean(c.Issuer))
	}
	if c.Subject == "" {
		return refuse(checkSubject, "it has no sub")
	}
	if v.subject != "" && c.Subject != v.subject {
		return refuse(checkSubject, "its sub is not the configured subject")
	}
	aud, err := audience(c.Audience)
	if err != nil {
		return err
	}
	if !slices.Contains(aud, v.clientID) {
		return refuse(checkAudience, "its aud does not contain this client (%q)", v.clientID).WithDetail("aud", clean(strings.Join(aud, " ")))
	}
	if (len(aud) > 1 || c.AZP != "") && c.AZP != v.clientID {
		return refuse(checkAZP, "it has several audiences and its azp %q is not this client", clean(c.AZP))
	}
	now := v.clock()
	exp, ok := unixTime(c.Expiry)
	if !ok {
		return refuse(checkExpired, "it has no valid exp")
	}
	if !now.Before(exp.Add(v.skew)) {
		return refuse(checkExpired, "it expired at %s", exp.UTC().Format(time.RFC3339))
	}
	iat, ok := unixTime(c.IssuedAt)
	if !ok {
		return refuse(checkIssuedAt, "it has no valid iat")
	}
	if iat.After(now.Add(v.skew)) {
		return refuse(checkIssuedAt, "it was issued in the future (%s); check the clocks", iat.UTC().Format(time.RFC3339))
	}
	if v.maxAge > 0 && now.Sub(iat) > v.maxAge+v.skew {
		return refuse(checkTooOld, "it was issued at %s, more than maxTokenAge %s ago", iat.UTC().Format(time.RFC3339), v.maxAge)
	}
	if v.authAgeAsked && !refresh {
		at, ok := unixTime(c.AuthTime)
		if !ok {
			return refuse(checkAuthTime, "it has no valid auth_time, which max_age makes required (OIDC Core 2)")
		}
		if now.Sub(at) > v.authAge+v.skew+authTimeGrace {
			return refuse(checkAuthTime, "the user last authenticated at %s, longer ago than max_age (%s) allows", at.UTC().Format(time.RFC3339), v.authAge)
		}
	}
	if v.loginAsked && !refresh && c.AuthTime != nil {
		// OIDC Core does not make auth_time required for prompt=login (maxAge
		// "0" does): a token without one passes, one from an older login not.
		at, ok := unixTime(c.AuthTime)
		if !ok {
			return refuse(checkAuthTime, "its auth_time is not a valid time")
		}
		if now.Sub(at) > v.skew+authTimeGrace {
			return refuse(checkAuthTime, "the user last authenticated at %s, before this sign-in, though it asks for a new login (prompt=login)", at.UTC().Format(time.RFC3339))
		}
	}
	if v.hostedDomain != "" && !strings.EqualFold(c.HostedDomain, v.hostedDomain) {
		return refuse(checkHostedDomain, "its hd %q is not the Google Workspace domain %q this connector asks for (customConfig.hd)", clean(c.HostedDomain), v.hostedDomain)
	}
	if v.acrs != nil && !refresh && !v.acrs[c.ACR] {
		return refuse(checkACR, "its acr %q is not one of the acr_values this connector asks for (requireAcr)", clean(c.ACR))
	}
	if v.allowedTenants != nil && !v.allowedTenants[strings.ToLower(c.TenantID)] {
		return refuse(checkTenant, "its tid %q is not one of the tenants this connector allows (allowedTenants)", clean(c.TenantID))
	}
	if c.NotBefore != nil {
		nbf, ok := unixTime(c.NotBefore)
		if !ok || nbf.After(now.Add(v.skew)) {
			return refuse(checkNotBefore, "it is not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	if nonce != "" {
		switch {
		case c.Nonce == nil:
			return refuse(checkNonce, "it has no nonce, but this sign-in sent one")
		case subtle.ConstantTimeCompare([]byte(*c.Nonce), []byte(nonce)) != 1:
			return refuse(checkNonce, "its nonce is not this sign-in's: it was issued for another sign-in, or replayed")
		}
	}
	return nil
}

// issuerMatches checks iss exactly; a Microsoft multi-tenant issuer template is
// filled with the token's own tid, which must be a tenant id. Only the
// Microsoft preset's discovery yields a template: a configured issuer with a
// "{" is refused (notATemplate).
func issuerMatches(c *idClaims, issuers []string) bool {
	for _, want := range issuers {
		if strings.Contains(want, "{tenantid}") {
			if tenantIDPattern.MatchString(c.TenantID) && c.Issuer == strings.ReplaceAll(want, "{tenantid}", c.TenantID) {
				return true
			}
			continue
		}
		if c.Issuer == want {
			return true
		}
	}
	return false
}

func audience(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many, nil
	}
	return nil, refuse(checkAudience, "its aud is missing or not a string or list of strings")
}

func unixTime(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func (v *verification) clock() time.Time {
	if v.now != nil {
		return v.now()
	}
	return time.Now()
}

// readHeader decodes the JOSE header of a compact JWS.
func readHeader(raw string) (*header, error) {
	first, _, ok := strings.Cut(raw, ".")
	if !ok || strings.Count(raw, ".") != 2 {
		return nil, refuse(checkMalformed, "it is not a compact JWS (three dot-separated parts)")
	}
	b, err := base64.RawURLEncoding.DecodeString(first)
	if err != nil {
		return nil, refuse(checkMalformed, "its header is not base64url")
	}
	var h header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, refuse(checkMalformed, "its header is not a JSON object")
	}
	return &h, nil
}

// signatureCheck verifies one token's signature: HMAC algorithms with the client
// secret (only when configured), the others with the provider's keys, never the
// other way round, so a public key can never serve as an HMAC secret.
type signatureCheck struct {
	in        *Instance
	endpoints *endpoints
	header    *header
}

func (s *signatureCheck) verify(ctx context.Context, jws *compactJWS) error {
	alg := s.header.Alg
	if slices.Contains(hmacAlgorithms, alg) {
		secret := s.in.verification.hmacSecret
		if len(secret) == 0 {
			return refuse(checkAlgorithm, "it is signed with %s, and no client secret is configured to verify it", alg)
		}
		if jws.verifyWithSecret(alg, secret) != nil {
			return refuse(checkSignature, "its %s signature does not verify with the client secret", alg)
		}
		return nil
	}
	if s.endpoints.JWKS == "" {
		return sdk.Errorf(sdk.CodeInvalidConfig, "no JWK set is known to verify ID tokens: set idTokenVerificationConfig.jwksUri or issuer")
	}
	keys, err := s.lookup(ctx, alg)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return refuse(checkUnknownKey, "the provider's JWK set has no key %q for %s", clean(s.header.Kid), alg).WithDetail("kid", clean(s.header.Kid))
	}
	if ok, err := verifiesWithOne(ctx, jws, alg, keys); ok || err != nil {
		return err
	}
	// A token that names no key is tried with every key: when none verifies
	// it, the provider may have rotated an unnamed key (OIDC Core 10.1 lets a
	// provider with one key leave kid out), so the set is fetched once more.
	if s.header.Kid == "" {
		keys, err := s.in.provider.keys.again(ctx, s.endpoints.JWKS, "", alg)
		if err != nil {
			var se *sdk.Error
			if errors.As(err, &se) {
				return se
			}
			return err
		}
		if ok, err := verifiesWithOne(ctx, jws, alg, keys); ok || err != nil {
			return err
		}
	}
	return refuse(checkSignature, "its signature does not verify with the provider's key %q", clean(s.header.Kid))
}

// verifiesWithOne reports whether one of keys verifies jws.
func verifiesWithOne(ctx context.Context, jws *compactJWS, alg string, keys []jose.JSONWebKey) (bool, error) {
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return false, sdk.Errorf(sdk.CodeProviderTimeout, "verifying the ID token's signature took past the call's deadline")
		}
		if jws.verifyWithKey(alg, key.Key) == nil {
			return true, nil
		}
	}
	return false, nil
}

// lookup finds the key; when the key id is unknown it discovers the provider
// again first (its jwks_uri may have moved), then the key set is fetched anew.
func (s *signatureCheck) lookup(ctx context.Context, alg string) ([]jose.JSONWebKey, error) {
	ks := s.in.provider.keys
	if s.header.Kid != "" && ks.lacks(ctx, s.endpoints.JWKS, s.header.Kid) && s.in.provider.issuer != "" {
		if e, err := s.in.provider.refresh(ctx); err == nil && e.JWKS != s.endpoints.JWKS {
			s.endpoints = e
		}
	}
	keys, err := ks.lookup(ctx, s.endpoints.JWKS, s.header.Kid, alg)
	var se *sdk.Error
	if errors.As(err, &se) {
		return nil, se
	}
	return keys, err
}

// atHashMatches checks at_hash (OIDC Core 3.1.3.6): the left half of the access
// token's hash, with the hash of the ID token's algorithm, base64url-encoded.
func atHashMatches(alg, atHash, accessToken string) bool {
	var h hash.Hash
	switch alg[len(alg)-3:] {
	case "256":
		h = sha256.New()
	case "384":
		h = sha512.New384()
	case "512":
		h = sha512.New()
	default: // EdDSA with Ed25519
		h = sha512.New()
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	want := base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	return subtle.ConstantTimeCompare([]byte(want), []byte(atHash)) == 1
}
