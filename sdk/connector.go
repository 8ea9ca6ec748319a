package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Connector is what a connector author implements. C is the author's parsed
// configuration for one instance: the SDK calls ParseConfig once per instance and
// configuration version, caches the result, and hands it to every call.
type Connector[C any] interface {
	// Metadata describes the connector. It is read once, when the host starts the plugin.
	Metadata() Metadata
	// ParseConfig decodes and checks one instance's JSON configuration. Return a
	// *ConfigError to name every bad field.
	ParseConfig(raw []byte) (C, error)
	// AuthorizationURI returns the URL to send the browser to, and what must be
	// remembered until the callback.
	AuthorizationURI(ctx context.Context, cfg C, req AuthorizationRequest) (*Authorization, error)
	// UserInfo turns the provider's callback into a profile.
	UserInfo(ctx context.Context, cfg C, req UserInfoRequest) (*UserInfoResult, error)
}

// Refresher is implemented by connectors that can renew a token set.
type Refresher[C any] interface {
	Refresh(ctx context.Context, cfg C, refreshToken string) (*TokenSet, error)
}

// Revoker is implemented by connectors that can revoke a token at the provider
// (RFC 7009), for the vault's DELETE. hint is "refresh_token", "access_token"
// or empty. A token the provider does not know counts as revoked.
type Revoker[C any] interface {
	Revoke(ctx context.Context, cfg C, token, hint string) error
}

// ProviderIdentifier is implemented by connectors that can name, per
// configuration, who honours the tokens it gets: its token endpoint (or issuer)
// and client id, say. The host binds the tokens it keeps for an instance to
// that name and to the plugin's id: when the operator points the instance at
// another provider (or another plugin), the tokens kept before are neither
// handed out nor sent to refresh or revoke, where the new provider would see
// them. Configurations one provider account would honour the same tokens for
// must return the same name; a scope or a profile mapping is no part of it.
// At most MaxProviderIdentity bytes of UTF-8; an empty name binds the tokens to
// the plugin's id only.
type ProviderIdentifier[C any] interface {
	ProviderIdentity(cfg C) string
}

// MaxProviderIdentity bounds what ProviderIdentity returns.
const MaxProviderIdentity = 1024

// CheckProviderIdentity says what is wrong with a provider identity, if anything.
func CheckProviderIdentity(id string) error {
	switch {
	case len(id) > MaxProviderIdentity:
		return fmt.Errorf("a provider identity is at most %d bytes; this one is %d", MaxProviderIdentity, len(id))
	case !utf8.ValidString(id):
		return errors.New("a provider identity must be UTF-8")
	}
	return nil
}

// Releaser is implemented by connectors that hold something per instance (a client,
// a connection, a cache) and want to drop it when the host removes the instance or
// replaces its configuration. cfg is the configuration being let go; a newer
// configuration of the same instance may already be in use. Release is called at
// most once per parsed configuration, and only for one this process parsed.
type Releaser[C any] interface {
	Release(ctx context.Context, instanceID string, cfg C)
}

// AuthorizationRequest asks for the URL that starts a sign-in.
type AuthorizationRequest struct {
	// InstanceID names the configured instance (for logs; the config is passed separately).
	InstanceID string
	// RedirectURI is where the provider must send the browser back.
	RedirectURI string
	// State binds the flow to the browser that started it; the host always sets it.
	State string
	// Scope, when not empty, is the scope the caller asks for this sign-in
	// (space-separated): a connector uses it in place of its configured scope.
	Scope string
}

// Authorization is where to send the browser, and what to remember until it comes back.
type Authorization struct {
	RedirectTo string
	// Session is kept by the host (sealed, never readable by the browser) and given
	// back unchanged in UserInfoRequest.Session.
	Session Session
}

// Session is what a connector remembers between the authorization URL and the callback.
type Session map[string]string

// UserInfoRequest carries the provider's callback.
type UserInfoRequest struct {
	InstanceID string
	// Session is what AuthorizationURI returned for this flow.
	Session Session
	// Callback holds every query (or form) parameter of the callback request.
	Callback map[string]string
}

// UserInfoResult is the signed-in user's profile, and the tokens when the instance
// is configured to hand them back.
type UserInfoResult struct {
	UserInfo UserInfo
	Tokens   *TokenSet
}

// UserInfo is the normalized profile. Optional fields are nil when the provider did
// not send them; an empty string is a value the provider sent.
type UserInfo struct {
	ID     string  `json:"id"`
	Name   *string `json:"name,omitempty"`
	Avatar *string `json:"avatar,omitempty"`
	Email  *string `json:"email,omitempty"`
	Phone  *string `json:"phone,omitempty"`
	// RawData is the provider's whole profile object.
	RawData json.RawMessage `json:"rawData,omitempty"`
}

// TokenSet is what a token endpoint returned.
type TokenSet struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	IDToken      string    `json:"idToken,omitempty"`
	TokenType    string    `json:"tokenType,omitempty"`
	Scope        string    `json:"scope,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"`
}

// String returns a pointer to s, for the optional fields of UserInfo.
func String(s string) *string { return &s }
