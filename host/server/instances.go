package server

import (
	"context"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/sdk"
)

// Instances is what the server needs of the host: the configured connector
// instances, the calls that reach their plugins, and the host's status.
// *host.Host implements it; a test can serve the routes without plugin processes.
type Instances interface {
	// Instances lists the configured instances in configuration order.
	Instances() []host.Instance
	// Instance describes one instance; an unknown id is a connector_not_found error.
	Instance(id string) (host.InstanceDetail, error)
	// CheckInstance is Instance's error alone, without describing the instance.
	CheckInstance(id string) error
	AuthorizationURI(ctx context.Context, id, redirectURI, state string, opts ...host.AuthorizationOption) (*sdk.Authorization, error)
	// UserInfo finishes a sign-in; the profile is mapped by the instance's mapping.
	UserInfo(ctx context.Context, id string, session sdk.Session, callback map[string]string) (*host.UserInfoResult, error)
	// MapUserInfo runs instance id's mapping on a profile without its plugin (the dry run).
	MapUserInfo(ctx context.Context, id string, u sdk.UserInfo) (mapping.Result, error)
	RefreshTokens(ctx context.Context, id, refreshToken string) (*sdk.TokenSet, error)
	// TokensProvider, RefreshTokensFor and RevokeTokenFor are the vault's:
	// who honours an instance's tokens now, and calls that send kept tokens
	// only while the instance names the provider they were kept for.
	TokensProvider(id string) (string, error)
	RefreshTokensFor(ctx context.Context, id, provider, refreshToken string) (*sdk.TokenSet, error)
	RevokeTokenFor(ctx context.Context, id, provider, token, hint string) error
	// Status is the host's health, for /readyz.
	Status() host.Status
}

var _ Instances = (*host.Host)(nil)
