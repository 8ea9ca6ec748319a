package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
)

// An operator moving from the bundled oauth2 plugin to Logto's OAuth connector (or
// writing Logto's profileMap by heart) names the avatar by the claim it reads
// ("picture") or misspells a key ("Email"). The bundled oauth2 plugin refuses both;
// through the bridge, zod had dropped the nested keys without a word, the instance
// configured, and every profile came without its avatar and email. They are refused
// by name now, with the key meant when only its case differs.
func TestProfileMapUnknownKeysRefused(t *testing.T) {
	h := openHostWith(t, folder(t, nil, "oauth"), host.Options{})
	config := map[string]any{
		"authorizationEndpoint": "https://id.acme.test/authorize",
		"tokenEndpoint":         "https://id.acme.test/token",
		"userInfoEndpoint":      "https://id.acme.test/userinfo",
		"clientId":              "acme-client",
		"clientSecret":          "acme-secret",
		"profileMap":            map[string]any{"id": "sub", "picture": "avatar_url", "Email": "email_address"},
	}
	err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "acme", Plugin: "logto-oauth2", Config: mustJSON(t, config)}})
	var ve *host.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "profileMap.picture: unknown field") ||
		!strings.Contains(err.Error(), "profileMap.Email: unknown field; did you mean email") {
		t.Fatalf("Configure(profileMap with picture and Email) = %v; want field errors naming profileMap.picture and profileMap.Email", err)
	}
	// Its own keys pass.
	config["profileMap"] = map[string]any{"id": "sub", "avatar": "picture", "email": "mail"}
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "acme", Plugin: "logto-oauth2", Config: mustJSON(t, config)}}); err != nil {
		t.Fatalf("Configure(profileMap with its own keys) = %v", err)
	}
}
