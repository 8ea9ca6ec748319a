package oauth2connector

import (
	"context"
	"io"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// sessionIssuer keeps the issuer a sign-in started with, beside the session keys
// of oauth2kit.StartAuthorization.
const sessionIssuer = "issuer"

// connector implements sdk.Connector and sdk.Refresher.
type connector struct{}

// New returns the generic OAuth 2.0 connector, ready for sdk.Serve or to be called in
// process.
func New() sdk.Connector[*Instance] { return connector{} }

var (
	_ sdk.Connector[*Instance] = connector{}
	_ sdk.Refresher[*Instance] = connector{}
	_ sdk.Revoker[*Instance]   = connector{}

	_ sdk.AuthorizationTemplater[*Instance] = connector{}
)

func (connector) Metadata() sdk.Metadata { return metadata() }

func (connector) ParseConfig(raw []byte) (*Instance, error) { return parseConfig(raw) }

// random is where authorizations draw their PKCE verifiers; nil is crypto/rand.
// Tests fix it to compare the host's build with the plugin's.
var random io.Reader

// AuthorizationURI starts a sign-in: a fresh PKCE pair per flow (unless pkce is
// "none"), and everything the callback must be checked against kept in the session.
// It builds from the same template the host gets, so both build the same.
func (connector) AuthorizationURI(_ context.Context, in *Instance, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	if err := oauth2kit.CheckAuthorizationRequest(req); err != nil {
		return nil, err
	}
	t, err := in.template()
	if err != nil {
		return nil, err
	}
	return t.Build(req, random)
}

// AuthorizationTemplate lets the host build this instance's authorization URLs
// itself, without a call per sign-in.
func (connector) AuthorizationTemplate(in *Instance) *sdk.AuthorizationTemplate {
	t, err := in.template()
	if err != nil || t.Check() != nil {
		// A URL the template cannot express (a fixed nonce in customConfig)
		// is built by the plugin, at a call per sign-in, as before.
		return nil
	}
	return t
}

// template is how the instance's authorization URLs are made.
func (in *Instance) template() (*sdk.AuthorizationTemplate, error) {
	t, err := oauth2kit.AuthorizationTemplate(oauth2kit.AuthorizationRequest{
		Endpoint: in.authorizationEndpoint,
		ClientID: in.clientID,
		Scope:    in.scope,
		Extra:    in.customConfig,
	}, in.pkce)
	if err != nil {
		return nil, err
	}
	if in.issuer != "" {
		t.Session.Fixed = map[string]string{sessionIssuer: in.issuer}
	}
	return t, nil
}

// ProviderIdentity is the token endpoint and the client id: tokens another
// configuration gets from the same endpoint for the same client are the same
// grant's to refresh and revoke; anything else is another provider's.
func (connector) ProviderIdentity(in *Instance) string {
	return "token_endpoint=" + in.token.URL + " client_id=" + in.clientID
}

// UserInfo finishes a sign-in: it checks the callback, exchanges the code (once,
// with exactly the session's redirect URI and PKCE verifier), and maps the
// userinfo endpoint's profile. Identity comes from the userinfo endpoint only, never
// from an id_token's unverified payload.
func (connector) UserInfo(ctx context.Context, in *Instance, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	if err := checkSessionIssuer(in, req.Session); err != nil {
		return nil, err
	}
	code, err := oauth2kit.ReadCallback(req.Callback, oauth2kit.CallbackCheck{State: req.Session[oauth2kit.SessionState], Issuer: in.issuer})
	if err != nil {
		return nil, err
	}
	redirectURI := req.Session[oauth2kit.SessionRedirectURI]
	if redirectURI == "" {
		return nil, sdk.Errorf(sdk.CodeInvalidRequestParameters, "the session has no redirect URI; start the sign-in again")
	}
	tok, err := in.token.Exchange(ctx, code, redirectURI, req.Session[oauth2kit.SessionCodeVerifier])
	if err != nil {
		return nil, err
	}
	raw, err := in.userInfo.Fetch(ctx, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	profile, err := oauth2kit.MapProfile(raw, in.profileMap)
	if err != nil {
		return nil, err
	}
	sdk.Logger(ctx).Debug("signed in", "user", profile.ID, "scope", tok.Scope, "expires_in", tok.ExpiresIn.String())
	return oauth2kit.SignedIn(profile, tok, in.storeTokens), nil
}

// checkSessionIssuer refuses a callback for a flow that was started while another
// issuer was configured: the check the session was made for no longer holds.
func checkSessionIssuer(in *Instance, session sdk.Session) error {
	if started := session[sessionIssuer]; started != "" && started != in.issuer {
		return sdk.Errorf(sdk.CodeInvalidRequestParameters,
			"the sign-in started while issuer was %q, but it is now %q; start the sign-in again", started, in.issuer)
	}
	return nil
}

// Refresh renews a token set with the same client authentication as the code
// exchange. A provider that does not rotate refresh tokens keeps the old one valid.
func (connector) Refresh(ctx context.Context, in *Instance, refreshToken string) (*sdk.TokenSet, error) {
	tok, err := in.token.Refresh(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	return tok.TokenSet(), nil
}

// Revoke revokes a token at the revocationEndpoint (RFC 7009); not_implemented
// when none is configured.
func (connector) Revoke(ctx context.Context, in *Instance, token, hint string) error {
	if in.revocation == nil {
		return sdk.Errorf(sdk.CodeNotImplemented, "no revocationEndpoint is configured")
	}
	return in.revocation.Revoke(ctx, token, hint)
}
