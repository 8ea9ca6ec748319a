package oauth2kit

import (
	"net/url"

	"github.com/idplug/idplug/sdk"
)

// ForceLogin makes auth's URL ask the provider for a fresh authentication,
// OpenID Connect's way (prompt=login, in place of any other prompt), when req
// asks for one (sdk.AuthorizationRequest.ForceLogin). A provider that knows
// prompt=login (OpenID Connect Core 3.1.2.1) asks the person again; others
// ignore the parameter (RFC 6749 3.1). A connector whose provider has a way of
// its own writes its own.
func ForceLogin(auth *sdk.Authorization, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	if auth == nil || !req.ForceLogin {
		return auth, nil
	}
	u, err := url.Parse(auth.RedirectTo)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeGeneral, "the authorization URL cannot be read: %v", err)
	}
	q := u.Query()
	q.Set("prompt", "login")
	u.RawQuery = q.Encode()
	out := *auth
	out.RedirectTo = u.String()
	return &out, nil
}
