package server

import (
	"context"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// movedWhileSigningIn is movingInstances whose connector a reload points at
// another provider while the plugin finishes a sign-in.
type movedWhileSigningIn struct {
	*movingInstances
}

func (m *movedWhileSigningIn) UserInfo(ctx context.Context, id string, session sdk.Session, callback map[string]string) (*host.UserInfoResult, error) {
	res, err := m.movingInstances.UserInfo(ctx, id, session, callback)
	m.moveTo("acme", "https://b.test/token client-1")
	return res, err
}

// The tokens of a sign-in whose connector a reload pointed at another provider
// while the plugin asked the first are kept for the first: they had been bound
// to the provider named once the plugin answered, and the vault then served
// them, and refreshed them at the new provider's token endpoint, as its own.
func TestTokensOfASignInAReloadMovedStayWithTheirProvider(t *testing.T) {
	f := signingIn("ada")
	f.userInfo.Tokens = &sdk.TokenSet{AccessToken: "at-from-a", RefreshToken: "rt-from-a"}
	inst := &movedWhileSigningIn{&movingInstances{fakeInstances: f, target: "acme", provider: "https://a.test/token client-1"}}
	srv := newUnitServer(t, inst, func(s *Settings) { s.Store, s.Vault = sqliteStore(t), testVault(t) })
	srv.SetTokenStorage([]string{"acme"})
	if res, _ := apiSignIn(t, srv); res.status != 200 {
		t.Fatalf("user-info: %d %s", res.status, res.raw)
	}
	if res := call(t, srv, "GET", "/v1/connectors/acme/users/ada/tokens", "", ""); res.status != 404 {
		t.Errorf("the first provider's tokens, read under the second: %d %s; want 404, kept for another provider", res.status, res.raw)
	}
}
