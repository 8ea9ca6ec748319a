package charttest

import "testing"

// A $(NAME) chain five deep, named so that each sorted pass of the template
// moves one step: a fixed four passes had stopped short, and a literal secret
// reached the Deployment through ACME_CLIENT_SECRET unrefused.
func TestDeepDerivedChainRefused(t *testing.T) {
	config := map[string]any{
		"session_keys": []any{"${file:/etc/idplug/secrets/session-key}"},
		"api_keys":     []any{"${file:/etc/idplug/secrets/api-key}"},
		"public_url":   "https://idp.example.com",
		"connectors": []any{map[string]any{"id": "acme", "plugin": "oauth2", "config": map[string]any{
			"clientId": "acme-app", "clientSecret": "${ACME_CLIENT_SECRET}",
		}}},
	}
	env := []any{
		map[string]any{"name": "RAW", "value": "literal-client-secret-0123456789abcdef"},
		map[string]any{"name": "V5", "value": "$(RAW)"},
		map[string]any{"name": "V4", "value": "$(V5)"},
		map[string]any{"name": "V3", "value": "$(V4)"},
		map[string]any{"name": "V2", "value": "$(V3)"},
		map[string]any{"name": "V1", "value": "$(V2)"},
		map[string]any{"name": "ACME_CLIENT_SECRET", "value": "$(V1)"},
	}
	refused(t, withSecret(map[string]any{"config": config, "env": env}), "reads ${ACME_CLIENT_SECRET}, which env sets with a value")
}
