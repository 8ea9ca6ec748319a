package main

import (
	"reflect"

	"github.com/idplug/idplug/sdk"
)

// authorizationPayload is what the bridge turns into Logto's getAuthorizationUri
// payload: state, redirect URI and, when the request carries one, Logto's
// per-request scope.
func authorizationPayload(req sdk.AuthorizationRequest) map[string]any {
	p := map[string]any{"state": req.State, "redirectUri": req.RedirectURI}
	if scope := requestScope(req); scope != "" {
		p["scope"] = scope
	}
	return p
}

// requestScope reads AuthorizationRequest.Scope by name: the field is being added to
// the SDK (POST /v1/connectors/{id}/authorization-uri takes "scope"), and this
// plugin passes it on as soon as it is there. Replace with req.Scope once it is.
func requestScope(req sdk.AuthorizationRequest) string {
	f := reflect.ValueOf(req).FieldByName("Scope")
	if f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}
