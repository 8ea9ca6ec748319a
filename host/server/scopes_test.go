package server

import (
	"net/http"
	"testing"

	"github.com/idplug/idplug/host/apikey"
)

// TestUndeclaredRouteNeedsAdmin: a /v1 route added without route() (so without
// a declared scope) is refused to every key but an admin one.
func TestUndeclaredRouteNeedsAdmin(t *testing.T) {
	const signin = "signin-0123456789abcdef0123456789abcdef"
	const admin = "admins-0123456789abcdef0123456789abcdef"
	srv := newUnitServer(t, &fakeInstances{}, func(s *Settings) {
		s.APIKeys = []apikey.Key{
			{Secret: signin, Scopes: []apikey.Scope{apikey.SignIn}},
			{Secret: admin, Scopes: []apikey.Scope{apikey.Admin}},
		}
	})
	srv.api.HandleFunc("POST /v1/connectors/{id}/undeclared", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	if res := call(t, srv, "POST", "/v1/connectors/a/undeclared", signin, ""); res.status != 403 || res.body.Code != CodeForbidden {
		t.Errorf("signin key on an undeclared route: %d %s", res.status, res.body.Code)
	}
	if res := call(t, srv, "POST", "/v1/connectors/a/undeclared", admin, ""); res.status != 204 {
		t.Errorf("admin key on an undeclared route: %d", res.status)
	}
	// Declared routes follow their scope; the fallback still says 404.
	if res := call(t, srv, "GET", "/v1/connectors", signin, ""); res.status != 200 {
		t.Errorf("list with a signin key: %d", res.status)
	}
	if res := call(t, srv, "GET", "/v1/nothing", signin, ""); res.status != 404 {
		t.Errorf("unknown route: %d", res.status)
	}
	if res := call(t, srv, "POST", "/v1/connectors/a/authorization-uri", admin, `{"redirectUri":"https://a.test/"}`); res.status != 403 {
		t.Errorf("authorization-uri with an admin key: %d", res.status)
	}
}
