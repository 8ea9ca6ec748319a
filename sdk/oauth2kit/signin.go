package oauth2kit

import "github.com/idplug/idplug/sdk"

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
// keys (an issuer, a nonce) to the returned session.
func StartAuthorization(r AuthorizationRequest, pkce bool) (*sdk.Authorization, error) {
	session := sdk.Session{SessionRedirectURI: r.RedirectURI, SessionState: r.State}
	if pkce {
		proof := NewPKCE()
		r.CodeChallenge = proof.Challenge
		session[SessionCodeVerifier] = proof.Verifier
	}
	redirectTo, err := AuthorizationURL(r)
	if err != nil {
		return nil, err
	}
	return &sdk.Authorization{RedirectTo: redirectTo, Session: session}, nil
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
