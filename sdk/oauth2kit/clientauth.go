package oauth2kit

import (
	"crypto"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/idplug/idplug/sdk"
)

// AuthMethod is how a client authenticates to the token endpoint; the values are
// the token_endpoint_auth_method names of OpenID Connect Core section 9.
type AuthMethod string

// The client authentication methods.
const (
	// ClientSecretBasic sends the id and secret in an HTTP Basic Authorization header.
	ClientSecretBasic AuthMethod = "client_secret_basic"
	// ClientSecretPost sends the id and secret in the form body.
	ClientSecretPost AuthMethod = "client_secret_post"
	// ClientSecretJWT sends a JWT signed with the secret (HS256/384/512).
	ClientSecretJWT AuthMethod = "client_secret_jwt"
	// PrivateKeyJWT sends a JWT signed with the client's private key (RS256/ES256).
	PrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthNone is a public client: only client_id is sent, PKCE does the rest.
	AuthNone AuthMethod = "none"
)

// AuthMethods lists every method, in the order a configuration form shows them.
func AuthMethods() []AuthMethod {
	return []AuthMethod{ClientSecretPost, ClientSecretBasic, ClientSecretJWT, PrivateKeyJWT, AuthNone}
}

// Valid reports whether m is one of the methods above.
func (m AuthMethod) Valid() bool {
	switch m {
	case ClientSecretBasic, ClientSecretPost, ClientSecretJWT, PrivateKeyJWT, AuthNone:
		return true
	}
	return false
}

// UsesSecret reports whether m needs a client secret.
func (m AuthMethod) UsesSecret() bool {
	return m == ClientSecretBasic || m == ClientSecretPost || m == ClientSecretJWT
}

// ClientAssertionType is the client_assertion_type of RFC 7523 section 2.2.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ClientAuth is a client's identity and how it proves it at the token endpoint.
type ClientAuth struct {
	Method       AuthMethod
	ClientID     string
	ClientSecret string
	// SigningAlgorithm signs client assertions: HS256, HS384 or HS512 for
	// client_secret_jwt (HS256 when empty); RS256 or ES256 for private_key_jwt (the
	// key's own when empty).
	SigningAlgorithm string
	// PrivateKey signs private_key_jwt assertions (see ParsePrivateKey).
	PrivateKey crypto.Signer
	// KeyID is sent as the assertion's kid header when not empty, so the provider can
	// pick the right key from the client's JWK set.
	KeyID string
	// Audience replaces the token endpoint URL as the assertion's aud, for providers
	// that want their issuer identifier there.
	Audience string
}

// apply puts the client's credentials into a token request. now dates the assertion.
func (a ClientAuth) apply(form url.Values, header http.Header, tokenURL string, now time.Time) error {
	switch a.Method {
	case ClientSecretBasic:
		header.Set("Authorization", "Basic "+basicCredentials(a.ClientID, a.ClientSecret))
	case ClientSecretPost:
		form.Set("client_id", a.ClientID)
		form.Set("client_secret", a.ClientSecret)
	case ClientSecretJWT, PrivateKeyJWT:
		aud := a.Audience
		if aud == "" {
			aud = tokenURL
		}
		assertion, err := a.signAssertion(aud, now)
		if err != nil {
			return err
		}
		form.Set("client_id", a.ClientID)
		form.Set("client_assertion_type", ClientAssertionType)
		form.Set("client_assertion", assertion)
	case AuthNone:
		form.Set("client_id", a.ClientID)
	default:
		return sdk.Errorf(sdk.CodeInvalidConfig, "unknown token endpoint auth method %q", a.Method)
	}
	return nil
}

// basicCredentials encodes id and secret as RFC 6749 section 2.3.1 says: each one
// form-encoded first, so a ':' or non-ASCII byte in either survives the trip.
func basicCredentials(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}
