// Package oauth2inproc is the bundled OAuth 2.0 connector (plugins/oauth2) made
// callable in-process, for the benchmarks: the same sdk/oauth2kit pieces, assembled
// the same way, from the same configuration. plugins/oauth2 is a command (package
// main) and cannot be imported, so this package repeats its AuthorizationURI and
// UserInfo step for step. It reads only the configuration fields the benchmarks use
// and refuses any other, so it can never quietly do something else than the plugin.
package oauth2inproc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// Config is the part of the plugin's configuration (Logto's field names) that the
// benchmarks set.
type Config struct {
	AuthorizationEndpoint     string            `json:"authorizationEndpoint"`
	TokenEndpoint             string            `json:"tokenEndpoint"`
	UserInfoEndpoint          string            `json:"userInfoEndpoint"`
	ClientID                  string            `json:"clientId"`
	ClientSecret              string            `json:"clientSecret"`
	TokenEndpointAuthMethod   string            `json:"tokenEndpointAuthMethod"`
	TokenEndpointResponseType string            `json:"tokenEndpointResponseType"`
	Scope                     string            `json:"scope"`
	ProfileMap                map[string]string `json:"profileMap"`
	StoreTokens               bool              `json:"storeTokens"`
}

// Session keys, as the plugin names them.
const (
	sessionRedirectURI  = "redirectUri"
	sessionState        = "state"
	sessionCodeVerifier = "codeVerifier"
)

// UserAgent is what the plugin sends, with the version "bench".
const UserAgent = "idplug-oauth2/bench"

// Instance is a parsed configuration, as the plugin holds it (PKCE on, no issuer, no
// customConfig: the plugin's defaults).
type Instance struct {
	authorizationEndpoint string
	clientID              string
	scope                 string
	pkce                  bool
	issuer                string
	customConfig          map[string]string
	profileMap            oauth2kit.ProfileMap
	storeTokens           bool
	token                 *oauth2kit.TokenEndpoint
	userInfo              *oauth2kit.UserInfoEndpoint
}

// Parse reads a configuration. Fields outside Config are refused.
func Parse(raw []byte) (*Instance, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("oauth2inproc: %w", err)
	}
	method := oauth2kit.AuthMethod(c.TokenEndpointAuthMethod)
	if method == "" {
		method = oauth2kit.ClientSecretPost
	}
	if method != oauth2kit.ClientSecretPost && method != oauth2kit.ClientSecretBasic && method != oauth2kit.AuthNone {
		return nil, fmt.Errorf("oauth2inproc: tokenEndpointAuthMethod %q is not supported here", method)
	}
	format := oauth2kit.FormatAuto
	switch c.TokenEndpointResponseType {
	case "":
	case "json":
		format = oauth2kit.FormatJSON
	case "query-string":
		format = oauth2kit.FormatForm
	default:
		return nil, fmt.Errorf("oauth2inproc: tokenEndpointResponseType %q", c.TokenEndpointResponseType)
	}
	pm := oauth2kit.DefaultProfileMap()
	targets := map[string]*string{"id": &pm.ID, "name": &pm.Name, "avatar": &pm.Avatar, "email": &pm.Email, "phone": &pm.Phone}
	for k, v := range c.ProfileMap {
		dst, ok := targets[k]
		if !ok {
			return nil, fmt.Errorf("oauth2inproc: profileMap.%s is not a profile field", k)
		}
		*dst = v
	}
	client, err := oauth2kit.NewHTTPClient(oauth2kit.HTTPOptions{Timeout: oauth2kit.DefaultRequestTimeout, UserAgent: UserAgent})
	if err != nil {
		return nil, err
	}
	custom := map[string]string{}
	return &Instance{
		authorizationEndpoint: c.AuthorizationEndpoint,
		clientID:              c.ClientID,
		scope:                 c.Scope,
		pkce:                  true,
		customConfig:          custom,
		profileMap:            pm,
		storeTokens:           c.StoreTokens,
		token: &oauth2kit.TokenEndpoint{
			URL:    c.TokenEndpoint,
			Auth:   oauth2kit.ClientAuth{Method: method, ClientID: c.ClientID, ClientSecret: c.ClientSecret},
			Format: format,
			Extra:  custom,
			HTTP:   client,
		},
		userInfo: &oauth2kit.UserInfoEndpoint{URL: c.UserInfoEndpoint, Method: http.MethodGet, HTTP: client},
	}, nil
}

// Connector is the plugin's connector, in-process. It implements sdk.Connector, so
// sdk.Serve can also run it as a plugin.
type Connector struct {
	// Meta is what Metadata returns.
	Meta sdk.Metadata
}

var _ sdk.Connector[*Instance] = Connector{}

// Metadata implements sdk.Connector.
func (c Connector) Metadata() sdk.Metadata { return c.Meta }

// ParseConfig implements sdk.Connector.
func (Connector) ParseConfig(raw []byte) (*Instance, error) { return Parse(raw) }

// AuthorizationURI is plugins/oauth2's, line for line.
func (Connector) AuthorizationURI(_ context.Context, in *Instance, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	if u, err := url.Parse(req.RedirectURI); err != nil || !u.IsAbs() {
		return nil, sdk.Errorf(sdk.CodeInvalidRequestParameters, "the redirect URI %q is not an absolute URL", req.RedirectURI)
	}
	if req.State == "" {
		return nil, sdk.Errorf(sdk.CodeInvalidRequestParameters, "the request has no state")
	}
	session := sdk.Session{sessionRedirectURI: req.RedirectURI, sessionState: req.State}
	ar := oauth2kit.AuthorizationRequest{
		Endpoint:    in.authorizationEndpoint,
		ClientID:    in.clientID,
		RedirectURI: req.RedirectURI,
		State:       req.State,
		Scope:       in.scope,
		Extra:       in.customConfig,
	}
	if in.pkce {
		pkce := oauth2kit.NewPKCE()
		ar.CodeChallenge = pkce.Challenge
		session[sessionCodeVerifier] = pkce.Verifier
	}
	redirectTo, err := oauth2kit.AuthorizationURL(ar)
	if err != nil {
		return nil, err
	}
	return &sdk.Authorization{RedirectTo: redirectTo, Session: session}, nil
}

// UserInfo is plugins/oauth2's, line for line: callback check, code exchange,
// userinfo fetch, profile mapping.
func (Connector) UserInfo(ctx context.Context, in *Instance, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	code, err := oauth2kit.ReadCallback(req.Callback, oauth2kit.CallbackCheck{State: req.Session[sessionState], Issuer: in.issuer})
	if err != nil {
		return nil, err
	}
	redirectURI := req.Session[sessionRedirectURI]
	if redirectURI == "" {
		return nil, sdk.Errorf(sdk.CodeInvalidRequestParameters, "the session has no redirect URI; start the sign-in again")
	}
	tok, err := in.token.Exchange(ctx, code, redirectURI, req.Session[sessionCodeVerifier])
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
	result := &sdk.UserInfoResult{UserInfo: profile}
	if in.storeTokens {
		result.Tokens = tok.TokenSet()
	}
	return result, nil
}
