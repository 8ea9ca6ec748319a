package process

import (
	"testing"

	"github.com/idplug/idplug/sdk"
)

func TestAuthorizationRequestScope(t *testing.T) {
	none := authorizationRequestToProto(nil, sdk.AuthorizationRequest{RedirectURI: "https://a.test/cb", State: "s"})
	if none.Scope != nil {
		t.Errorf("scope = %q, want absent when none was asked", none.GetScope())
	}
	asked := authorizationRequestToProto(nil, sdk.AuthorizationRequest{RedirectURI: "https://a.test/cb", State: "s", Scope: "openid email"})
	if asked.GetScope() != "openid email" || asked.GetRedirectUri() != "https://a.test/cb" || asked.GetState() != "s" {
		t.Errorf("request = %v", asked)
	}
}
