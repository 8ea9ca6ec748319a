package oauth2kit

import (
	"net/url"

	"github.com/idplug/idplug/sdk"
)

// AuthorizationRequest is what goes into an authorization URL.
type AuthorizationRequest struct {
	// Endpoint is the provider's authorization endpoint; its own query is kept.
	Endpoint    string
	ClientID    string
	RedirectURI string
	State       string
	// Scope is sent when not empty.
	Scope string
	// CodeChallenge is the PKCE S256 challenge; empty leaves PKCE out.
	CodeChallenge string
	// Extra parameters are added as written; they may not set a protocol parameter.
	Extra map[string]string
}

// AuthorizationURL builds the URL that starts an authorization code flow. The
// endpoint's own query parameters are kept (an operator may have put a fixed scope
// there); the protocol parameters this request carries replace any of the same name,
// and Extra is added. An Extra key that names a
// protocol parameter is refused (CodeInvalidConfig) rather than silently dropped.
func AuthorizationURL(r AuthorizationRequest) (string, error) {
	u, err := url.Parse(r.Endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", sdk.Errorf(sdk.CodeInvalidConfig, "the authorization endpoint %q is not an absolute URL", r.Endpoint)
	}
	q := u.Query()
	for k, v := range r.Extra {
		if IsProtocolParam(k) {
			return "", sdk.Errorf(sdk.CodeInvalidConfig, "extra parameter %q would overwrite a protocol parameter", k).
				WithDetail("parameter", k)
		}
		q.Set(k, v)
	}
	q.Set("response_type", "code")
	q.Set("client_id", r.ClientID)
	q.Set("redirect_uri", r.RedirectURI)
	q.Set("state", r.State)
	if r.Scope != "" {
		q.Set("scope", r.Scope)
	}
	if r.CodeChallenge != "" {
		q.Set("code_challenge", r.CodeChallenge)
		q.Set("code_challenge_method", PKCEMethodS256)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// CheckAuthorizationRequest refuses what no authorization URL can be built from: a
// redirect URI that is not absolute, or a missing state.
func CheckAuthorizationRequest(req sdk.AuthorizationRequest) error { return req.Check() }

// RequestScope is the scope to ask for: the one the caller asked for this sign-in
// when it did, the configured one otherwise.
func RequestScope(req sdk.AuthorizationRequest, configured string) string {
	if req.Scope != "" {
		return req.Scope
	}
	return configured
}
