package kitconn

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/sdk"
)

// openIDScope says whether scope asks for ID tokens.
func openIDScope(scope string) bool { return slices.Contains(strings.Fields(scope), "openid") }

// verifyIDToken checks the ID token of a sign-in that asked for the openid
// scope, the way OpenID Connect Core 3.1.3.7 says, less what the kit does not
// check: its keys come from the discovery document beside the token endpoint.
// Each IDToken* defect leaves one check out.
func (c Connector) verifyIDToken(ctx context.Context, cfg *Config, raw, nonce string) error {
	refuse := func(format string, args ...any) error {
		return sdk.Errorf(sdk.CodeSocialIDTokenInvalid, "ID token refused: "+format, args...)
	}
	if raw == "" {
		if c.Defect == IDTokenMissingAccepted { // "verify it if there is one"
			return nil
		}
		return refuse("the token answer has none")
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return refuse("it is not a compact JWS")
	}
	u, err := url.Parse(cfg.TokenEndpoint)
	if err != nil {
		return err
	}
	disco, err := cfg.http.GetJSON(ctx, u.Scheme+"://"+u.Host+"/.well-known/openid-configuration", "discovery document")
	if err != nil {
		return err
	}
	var d struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(disco.Body, &d); err != nil || d.Issuer == "" || d.JWKSURI == "" {
		return sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document names no issuer or jwks_uri")
	}
	var payload []byte
	if c.Defect == IDTokenSignatureUnchecked {
		payload = jws.UnsafePayloadWithoutVerification()
	} else {
		doc, err := cfg.http.GetJSON(ctx, d.JWKSURI, "JWK set")
		if err != nil {
			return err
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(doc.Body, &set); err != nil {
			return sdk.Errorf(sdk.CodeInvalidResponse, "the JWK set does not parse")
		}
		keys := set.Key(jws.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			return refuse("its key id names no key of the provider")
		}
		if payload, err = jws.Verify(keys[0]); err != nil {
			return refuse("its signature does not verify")
		}
	}
	var claims struct {
		Issuer   string          `json:"iss"`
		Audience json.RawMessage `json:"aud"`
		Expiry   int64           `json:"exp"`
		Nonce    string          `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return refuse("its claims do not parse")
	}
	var aud []string
	if json.Unmarshal(claims.Audience, &aud) != nil {
		var one string
		_ = json.Unmarshal(claims.Audience, &one)
		aud = []string{one}
	}
	switch {
	case claims.Issuer != d.Issuer && c.Defect != IDTokenIssuerUnchecked:
		return refuse("it is from another issuer")
	case !slices.Contains(aud, cfg.ClientID) && c.Defect != IDTokenAudienceUnchecked:
		return refuse("it is not for this client")
	case time.Now().Unix() >= claims.Expiry && c.Defect != IDTokenExpiryUnchecked:
		return refuse("it has expired")
	case claims.Nonce != nonce && c.Defect != IDTokenNonceUnchecked && (claims.Nonce != "" || c.Defect != IDTokenNonceOptional):
		return refuse("its nonce is not this sign-in's")
	}
	return nil
}
