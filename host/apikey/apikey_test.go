package apikey

import (
	"fmt"
	"strings"
	"testing"
)

func TestScopes(t *testing.T) {
	k := Key{Secret: "s", Scopes: []Scope{TokensReadRefresh}, Connectors: []string{"acme"}}
	if !k.Has(TokensRead) || !k.Has(TokensReadRefresh) || k.Has(TokensDelete) || k.Has(SignIn) || k.Has(Admin) {
		t.Errorf("tokens:read_refresh key: %v", k)
	}
	if !k.OnConnector("acme") || k.OnConnector("other") {
		t.Errorf("connectors: %v", k)
	}
	read := Key{Scopes: []Scope{TokensRead}}
	if read.Has(TokensReadRefresh) {
		t.Error("tokens:read must not give the refresh token")
	}
	if !read.OnConnector("anything") {
		t.Error("no connectors means every connector")
	}
	all := Unscoped("s")
	for _, s := range Scopes() {
		if !all.Has(s) {
			t.Errorf("a plain key lacks %s", s)
		}
	}
	if !Known("admin") || Known("tokens") || Known("") {
		t.Error("Known")
	}
}

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	const secret = "very-secret-key-0123456789-0123456789"
	for _, k := range []Key{Unscoped(secret), {Secret: secret, Scopes: []Scope{Admin}}} {
		for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
			if strings.Contains(out, secret) {
				t.Errorf("printed the secret: %s", out)
			}
		}
	}
}
