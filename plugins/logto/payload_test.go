package main

import (
	"testing"

	"github.com/idplug/idplug/sdk"
)

func TestAuthorizationPayload(t *testing.T) {
	p := authorizationPayload(sdk.AuthorizationRequest{InstanceID: "x", RedirectURI: "https://idplug.example/cb", State: "st"})
	if p["state"] != "st" || p["redirectUri"] != "https://idplug.example/cb" {
		t.Errorf("payload = %v", p)
	}
	if _, ok := p["scope"]; ok {
		t.Errorf("payload = %v: a scope without one asked for", p)
	}
}

func TestAuthorizationPayloadPassesScope(t *testing.T) {
	p := authorizationPayload(sdk.AuthorizationRequest{RedirectURI: "https://idplug.example/cb", State: "st", Scope: "openid email"})
	if p["scope"] != "openid email" {
		t.Errorf("payload = %v: want the requested scope passed on", p)
	}
	if len(p) != 3 {
		t.Errorf("payload = %v: want exactly state, redirectUri and scope", p)
	}
}
