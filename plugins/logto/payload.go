package main

import "github.com/idplug/idplug/sdk"

// authorizationPayload is what the bridge turns into Logto's getAuthorizationUri payload.
func authorizationPayload(req sdk.AuthorizationRequest) map[string]any {
	return map[string]any{"state": req.State, "redirectUri": req.RedirectURI}
}
