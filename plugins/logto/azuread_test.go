package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/stubprovider"
)

// unsignedJWT is a JWT with claims and no signature: MSAL reads the claims of the
// ID token its token endpoint answered, and checks no signature.
func unsignedJWT(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
}

// TestAzureADEmailOfAnyTenant: Logto's Microsoft Entra ID connector returns Graph's
// mail, which the admin of the user's own tenant writes and no one verifies. With a
// multi-tenant authority (common, organizations) anyone could make a tenant, name
// someone else's address there and sign in with it ("nOAuth"): the email is left
// out. A single tenant's authority keeps it: its admins are the operator's. (The
// connector signs in through Microsoft's MSAL library, against a stub of Microsoft's
// token endpoint and Graph.)
func TestAzureADEmailOfAnyTenant(t *testing.T) {
	s := newStub(t)
	token := func(w http.ResponseWriter, _ *http.Request) {
		now := time.Now().Unix()
		stubprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"token_type": "Bearer", "scope": "User.Read", "expires_in": 3599, "access_token": "az-access",
			"id_token": unsignedJWT(map[string]any{"aud": "az-client", "iss": "https://login.microsoftonline.com/other-tenant/v2.0", "ver": "2.0",
				"iat": now, "nbf": now, "exp": now + 3600, "oid": "oid-1", "tid": "other-tenant", "sub": "sub-1", "preferred_username": "mallory@other.example"}),
			"client_info": base64.RawURLEncoding.EncodeToString([]byte(`{"uid":"oid-1","utid":"other-tenant"}`)),
		})
	}
	tenants := []struct {
		id        string
		wantEmail bool
	}{{"common", false}, {"organizations", false}, {"contoso.example", true}}
	for _, tenant := range tenants {
		s.HandleFunc("/"+tenant.id+"/oauth2/v2.0/token", token)
	}
	s.HandleFunc("/v1.0/me", bearer("az-access", map[string]any{"id": "oid-1", "displayName": "Mallory", "mail": "victim@example.com"}))
	h := openHost(t, folder(t, s.hosts("login.microsoftonline.com", "graph.microsoft.com"), "azuread"))
	ctx := context.Background()
	for _, tenant := range tenants {
		t.Run(tenant.id, func(t *testing.T) {
			if err := h.Configure(ctx, []host.InstanceConfig{{ID: "social", Plugin: "logto-azuread-universal", Config: mustJSON(t, map[string]any{
				"clientId": "az-client", "clientSecret": "az-secret-19f0", "cloudInstance": "https://login.microsoftonline.com", "tenantId": tenant.id,
			})}}); err != nil {
				t.Fatalf("Configure: %v", err)
			}
			state := "st-az-" + tenant.id
			auth, err := h.AuthorizationURI(ctx, "social", callbackURL, state)
			if err != nil {
				t.Fatal(err)
			}
			res, err := h.UserInfo(ctx, "social", auth.Session, map[string]string{"state": state, "code": "az-code"})
			if err != nil {
				t.Fatalf("UserInfo: %v", err)
			}
			got := res.UserInfo
			switch {
			case got.ID != "oid-1":
				t.Fatalf("profile = %s", show(got))
			case tenant.wantEmail && (got.Email == nil || *got.Email != "victim@example.com"):
				t.Errorf("profile = %s; want the mail of the tenant's own user", show(got))
			case !tenant.wantEmail && got.Email != nil:
				t.Errorf("profile = %s: a multi-tenant authority returned the mail any tenant's admin writes", show(got))
			}
		})
	}
}
