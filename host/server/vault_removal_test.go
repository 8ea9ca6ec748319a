package server

import (
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// A connector the operator removed (found hostile, say) and configured again
// later (the plugin fixed, the same plugin id and provider) had served again
// every vault record it kept before its removal: a hostile plugin could have put
// tokens of an account of its author's under any user id of its connector,
// and apps with tokens:read went on acting with them, through the fixed
// connector's refreshes too. Browser sessions and the OpenID Provider's grants
// made before a removal stay ended when the id comes back
// (TestRemovedConnectorsSessionsStaySignedOutWhenItComesBack), and so do its
// vault records.
func TestVaultRecordsOfARemovedConnectorStayUnusedWhenItComesBack(t *testing.T) {
	f := signingIn("victim") // what the hostile plugin said
	f.userInfo.Tokens = &sdk.TokenSet{AccessToken: "at-of-the-attackers-account", RefreshToken: "rt-of-the-attackers-account", TokenType: "Bearer"}
	inst := &togglingInstances{fakeInstances: f}
	srv := newUnitServer(t, inst, func(s *Settings) { s.Store, s.Vault = sqliteStore(t), testVault(t) })
	srv.SetTokenStorage([]string{"acme"})
	mustSetConnectors(t, srv, []string{"acme"})
	if res, _ := apiSignIn(t, srv); res.status != 200 {
		t.Fatalf("user-info: %d %s", res.status, res.raw)
	}

	// The reload that removes the connector, as serve.go applies it.
	inst.removed.Store(true)
	srv.SetTokenStorage(nil)
	mustSetConnectors(t, srv, nil)
	if res := call(t, srv, "GET", "/v1/connectors/acme/users/victim/tokens", "", ""); res.status != 404 {
		t.Fatalf("tokens of a removed connector: %d %s", res.status, res.raw)
	}

	// Configured again later, the plugin fixed.
	inst.removed.Store(false)
	srv.SetTokenStorage([]string{"acme"})
	mustSetConnectors(t, srv, []string{"acme"})
	res := call(t, srv, "GET", "/v1/connectors/acme/users/victim/tokens", "", "")
	if res.status != 404 || strings.Contains(string(res.raw), "attackers-account") {
		t.Errorf("the record kept before the connector's removal is served again once it is back: %d %s; want 404, as its sessions stay signed out", res.status, res.raw)
	}

	// A sign-in once it is back keeps tokens that serve, within the removal's
	// millisecond too (its time is after the removal's, as a session's is).
	f.userInfo.Tokens = &sdk.TokenSet{AccessToken: "at-of-the-victim", TokenType: "Bearer"}
	if res, _ := apiSignIn(t, srv); res.status != 200 {
		t.Fatalf("user-info once the connector is back: %d %s", res.status, res.raw)
	}
	if res := call(t, srv, "GET", "/v1/connectors/acme/users/victim/tokens", "", ""); res.status != 200 || !strings.Contains(string(res.raw), "at-of-the-victim") {
		t.Errorf("the tokens of a sign-in made once the connector is back: %d %s", res.status, res.raw)
	}
}

// A reload that turns storeTokens off for a connector leaves every
// record it kept in the store, sealed refresh tokens included, and the API
// had refused to delete them (404 "does not keep tokens"), so an app erasing
// a user (an account deletion) could not, and the provider's grant stayed;
// turned on again later, the same records, refresh tokens and all, served
// once more. A delete needs only the vault.
func TestVaultRecordsCanBeDeletedAfterStoreTokensIsTurnedOff(t *testing.T) {
	f := signingIn("ada")
	f.userInfo.Tokens = &sdk.TokenSet{AccessToken: "at-1", RefreshToken: "rt-1", TokenType: "Bearer"}
	srv := newUnitServer(t, f, func(s *Settings) { s.Store, s.Vault = sqliteStore(t), testVault(t) })
	srv.SetTokenStorage([]string{"acme"})
	if res, _ := apiSignIn(t, srv); res.status != 200 {
		t.Fatalf("user-info: %d %s", res.status, res.raw)
	}

	srv.SetTokenStorage(nil) // a reload: storeTokens: false
	del := call(t, srv, "DELETE", "/v1/connectors/acme/users/ada/tokens", "", "")
	if del.status != 200 {
		t.Errorf("DELETE of a record kept before storeTokens was turned off: %d %s; want 200, the record deleted (and revoked)", del.status, del.raw)
	}

	srv.SetTokenStorage([]string{"acme"}) // a later reload turns it on again
	if res := call(t, srv, "GET", "/v1/connectors/acme/users/ada/tokens", "", ""); res.status != 404 {
		t.Errorf("after the delete the app was refused, the old record is served again: %d %s", res.status, res.raw)
	}
}
