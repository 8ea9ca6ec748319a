package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// Session keys: what AuthorizationURI remembers for the callback.
const (
	sessionState        = "state"
	sessionRedirectURI  = "redirectUri"
	sessionCodeVerifier = "codeVerifier"
)

// connector implements sdk.Connector and sdk.Refresher.
type connector struct{}

var (
	_ sdk.Connector[*instance] = connector{}
	_ sdk.Refresher[*instance] = connector{}
)

func (connector) Metadata() sdk.Metadata { return metadata() }

func (connector) ParseConfig(raw []byte) (*instance, error) { return parseConfig(raw) }

// AuthorizationURI sends the browser to GitHub's authorization page, with a fresh
// PKCE pair per sign-in.
func (connector) AuthorizationURI(_ context.Context, in *instance, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	if err := oauth2kit.CheckAuthorizationRequest(req); err != nil {
		return nil, err
	}
	pkce := oauth2kit.NewPKCE()
	redirectTo, err := oauth2kit.AuthorizationURL(oauth2kit.AuthorizationRequest{
		Endpoint:      in.authorizeURL,
		ClientID:      in.clientID,
		RedirectURI:   req.RedirectURI,
		State:         req.State,
		Scope:         oauth2kit.RequestScope(req, in.scope),
		CodeChallenge: pkce.Challenge,
	})
	if err != nil {
		return nil, err
	}
	return &sdk.Authorization{RedirectTo: redirectTo, Session: sdk.Session{
		sessionState:        req.State,
		sessionRedirectURI:  req.RedirectURI,
		sessionCodeVerifier: pkce.Verifier,
	}}, nil
}

// ProviderIdentity is the token endpoint and the OAuth app's client id: the
// tokens of another app, or of another GitHub (Enterprise Server), are not
// this configuration's to refresh.
func (connector) ProviderIdentity(in *instance) string {
	return "token_endpoint=" + in.token.URL + " client_id=" + in.clientID
}

// UserInfo checks the callback, exchanges the code (GitHub answers form-encoded, and
// reports a bad code with HTTP 200 and error=bad_verification_code: oauth2kit reads
// both), reads GET /user, and takes an email address GET /user/emails says GitHub
// verified (verifiedEmail). With organizations, the raw data also lists GET
// /user/orgs.
func (connector) UserInfo(ctx context.Context, in *instance, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	code, err := oauth2kit.ReadCallback(req.Callback, oauth2kit.CallbackCheck{State: req.Session[sessionState]})
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
	raw, err := in.api.Get(ctx, "/user", tok.AccessToken)
	if err != nil {
		return nil, err
	}
	// The id is a number: MapProfile keeps every digit (12345678901 stays "12345678901").
	profile, err := oauth2kit.MapProfile(raw, profileMap)
	if err != nil {
		return nil, err
	}
	if profile.Email, err = verifiedEmail(ctx, in, tok.AccessToken, profile.Email); err != nil {
		return nil, err
	}
	if in.orgs {
		if err := grantsOrgs(tok.Scope); err != nil {
			return nil, err
		}
		orgs, err := organizations(ctx, in, tok.AccessToken)
		if err != nil {
			return nil, err
		}
		if profile.RawData, err = withOrganizations(raw, orgs); err != nil {
			return nil, err
		}
	}
	sdk.Logger(ctx).Debug("signed in", "user", profile.ID, "scope", tok.Scope)
	res := &sdk.UserInfoResult{UserInfo: profile}
	if in.storeTokens {
		res.Tokens = tok.TokenSet()
	}
	return res, nil
}

// profileMap reads GET /user. A user who set no name is shown by their handle (login).
var profileMap = oauth2kit.ProfileMap{
	ID: "id", Name: "name", Avatar: "avatar_url", Email: "email",
	Else: &oauth2kit.ProfileMap{Name: "login"},
}

// verifiedEmail is an address GET /user/emails lists as verified: public (GET
// /user's address, nil when the user keeps it private) when listed so, byte for
// byte, else the primary address when verified, else none. GET /user does not
// say whether GitHub verified its address (GitHub unverifies one that bounces),
// so a token that may not read the list (no user:email scope: 404, or 403 on
// some GitHub Enterprise versions; a GitHub App without the email addresses
// permission) gets none, public address or not.
func verifiedEmail(ctx context.Context, in *instance, accessToken string, public *string) (*string, error) {
	raw, err := in.api.Get(ctx, "/user/emails?per_page=100", accessToken)
	var e *sdk.Error
	if errors.As(err, &e) && e.Code == sdk.CodeInvalidResponse && (e.Details["status"] == 403 || e.Details["status"] == 404) {
		sdk.Logger(ctx).Debug("no access to the user's email addresses (is user:email in scope?): the profile has no email", "status", e.Details["status"])
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := json.Unmarshal(raw, &emails); err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "GET /user/emails answered something other than a list of email addresses")
	}
	if public != nil && *public != "" {
		for _, m := range emails {
			if m.Email == *public && m.Verified {
				return &m.Email, nil
			}
		}
	}
	for _, m := range emails {
		if m.Primary && m.Verified && m.Email != "" {
			return &m.Email, nil
		}
	}
	return nil, nil
}

// Refresh renews the tokens of a GitHub App whose user tokens expire (OAuth apps'
// tokens do not, and come without a refresh token).
func (connector) Refresh(ctx context.Context, in *instance, refreshToken string) (*sdk.TokenSet, error) {
	tok, err := in.token.Refresh(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	return tok.TokenSet(), nil
}
