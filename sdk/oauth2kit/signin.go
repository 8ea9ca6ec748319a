package oauth2kit

import (
	"net/url"

	"github.com/idplug/idplug/sdk"
)

// Session keys under which StartAuthorization keeps what the callback is checked
// against. Sessions of sign-ins in flight carry them, so they never change.
const (
	SessionRedirectURI  = "redirectUri"
	SessionState        = "state"
	SessionCodeVerifier = "codeVerifier"
)

// StartAuthorization builds the URL that starts a sign-in and the session its
// callback is checked against: r's redirect URI and state and, when pkce is set, a
// fresh PKCE verifier whose challenge goes into the URL. A connector adds its own
// keys (an issuer, a nonce) to the returned session. It builds through
// AuthorizationTemplate, so a connector that declares that template gets from the
// host exactly what it would have built itself.
func StartAuthorization(r AuthorizationRequest, pkce bool) (*sdk.Authorization, error) {
	t, err := AuthorizationTemplate(r, pkce)
	if err != nil {
		return nil, err
	}
	return t.Build(sdk.AuthorizationRequest{RedirectURI: r.RedirectURI, State: r.State}, nil)
}

// AuthorizationTemplate is the template of the URLs StartAuthorization builds for
// r: r's endpoint, client id, extra parameters and scope (sent when a sign-in asks
// for none) are fixed; its redirect URI and state are ignored (each sign-in
// brings its own). The errors are AuthorizationURL's.
func AuthorizationTemplate(r AuthorizationRequest, pkce bool) (*sdk.AuthorizationTemplate, error) {
	u, err := url.Parse(r.Endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "the authorization endpoint %q is not an absolute URL", r.Endpoint)
	}
	params := make(map[string]string, len(r.Extra)+2)
	for k, v := range r.Extra {
		if IsProtocolParam(k) {
			return nil, sdk.Errorf(sdk.CodeInvalidConfig, "extra parameter %q would overwrite a protocol parameter", k).
				WithDetail("parameter", k)
		}
		params[k] = v
	}
	params["response_type"] = "code"
	params["client_id"] = r.ClientID
	t := &sdk.AuthorizationTemplate{
		Endpoint:         r.Endpoint,
		Params:           params,
		StateParam:       "state",
		RedirectURIParam: "redirect_uri",
		ScopeParam:       "scope",
		Scope:            r.Scope,
		PKCE:             pkce,
		Session:          sdk.SessionTemplate{State: SessionState, RedirectURI: SessionRedirectURI},
	}
	if pkce {
		t.Session.CodeVerifier = SessionCodeVerifier
	}
	return t, nil
}

// SignedIn is a sign-in's result: the profile, and tok's tokens when the connector
// is configured to store them (storeTokens).
func SignedIn(profile sdk.UserInfo, tok *Token, storeTokens bool) *sdk.UserInfoResult {
	result := &sdk.UserInfoResult{UserInfo: profile}
	if storeTokens {
		result.Tokens = tok.TokenSet()
	}
	return result
}
