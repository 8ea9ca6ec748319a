package main

import "github.com/idplug/idplug/sdk"

// authorizationPayload is what the bridge turns into Logto's getAuthorizationUri
// payload: state, redirect URI and, when the request carries one, Logto's
// per-request scope.
func authorizationPayload(req sdk.AuthorizationRequest) map[string]any {
	p := map[string]any{"state": req.State, "redirectUri": req.RedirectURI}
	if req.Scope != "" {
		p["scope"] = req.Scope
	}
	return p
}
