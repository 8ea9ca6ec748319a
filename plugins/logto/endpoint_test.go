package main

import (
	"context"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
)

// The operator writes Logto's OAuth connector an endpoint without its scheme,
// as they would a host name. Logto's guard takes any string, so the instance had
// configured, and the first sign-in failed with the plugin blamed for a relative
// redirect. It is refused at configure now, naming the field, as the bundled
// oauth2 plugin refuses it.
func TestLogtoEndpointWithoutSchemeRefusedAtConfigure(t *testing.T) {
	h := openHostWith(t, folder(t, nil, "oauth"), host.Options{})
	config := map[string]any{
		"authorizationEndpoint": "id.acme.test/authorize",
		"tokenEndpoint":         "ftp://id.acme.test/token",
		"userInfoEndpoint":      " https://id.acme.test/userinfo",
		"clientId":              "acme-client",
		"clientSecret":          "acme-secret",
	}
	err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "acme", Plugin: "logto-oauth2", Config: mustJSON(t, config)}})
	if err == nil || !strings.Contains(err.Error(), "authorizationEndpoint: must be an absolute http or https URL: it has no scheme") ||
		!strings.Contains(err.Error(), "tokenEndpoint: must be an absolute http or https URL") ||
		!strings.Contains(err.Error(), "userInfoEndpoint: must be an absolute http or https URL, without spaces around it") {
		t.Fatalf("Configure(endpoints without a scheme, ftp, and one with a space before it) = %v; want the three named", err)
	}
	config["authorizationEndpoint"], config["tokenEndpoint"], config["userInfoEndpoint"] =
		"https://id.acme.test/authorize", "http://127.0.0.1:9/token", "https://id.acme.test/userinfo"
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "acme", Plugin: "logto-oauth2", Config: mustJSON(t, config)}}); err != nil {
		t.Fatalf("Configure(absolute endpoints) = %v", err)
	}
}
