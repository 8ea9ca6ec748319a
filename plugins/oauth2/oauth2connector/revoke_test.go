package oauth2connector

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// Revocation against the real provider is in host/cmd/idplug's state tests;
// these are the cases it cannot show.
func TestRevokeWithoutEndpointIsNotImplemented(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(nil))
	err := connector{}.Revoke(context.Background(), in, "RT-1", "refresh_token")
	wantCode(t, err, sdk.CodeNotImplemented)
}

func TestRevocationEndpointIsChecked(t *testing.T) {
	p := newStubProvider(t)
	raw, _ := json.Marshal(p.config(map[string]any{"revocationEndpoint": "ftp://id.example.com/revoke"}))
	_, err := parseConfig(raw)
	if err == nil || !strings.Contains(err.Error(), "revocationEndpoint") {
		t.Fatalf("parseConfig = %v, want a revocationEndpoint problem", err)
	}
}
