package server

import (
	"context"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// Connectors is what the server needs of the host: the configured connector
// instances, the calls that reach their plugins, and the host's status.
// *host.Host implements it; a test can serve the routes without plugin processes.
type Connectors interface {
	// Connectors lists the configured instances in configuration order.
	Connectors() []host.Connector
	// Connector describes one instance; an unknown id is a connector_not_found error.
	Connector(id string) (host.ConnectorDetail, error)
	AuthorizationURI(ctx context.Context, id, redirectURI, state string, opts ...host.AuthorizationOption) (*sdk.Authorization, error)
	UserInfo(ctx context.Context, id string, session sdk.Session, callback map[string]string) (*sdk.UserInfoResult, error)
	RefreshTokens(ctx context.Context, id, refreshToken string) (*sdk.TokenSet, error)
	RevokeToken(ctx context.Context, id, token, hint string) error
	// Status is the host's health, for /readyz.
	Status() host.Status
}

var _ Connectors = (*host.Host)(nil)
