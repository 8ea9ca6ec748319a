package oidcprovider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// failingPut is a store whose next PutSession fails, as a database that
// goes away for a moment does.
type failingPut struct {
	store.Store
	fail atomic.Bool
}

func (f *failingPut) PutSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	if f.fail.CompareAndSwap(true, false) {
		return fmt.Errorf("%w: put_session: the database went away", store.ErrUnavailable)
	}
	return f.Store.PutSession(ctx, id, data, expires)
}

// A code exchange whose large identity could not be written (PutSession)
// answers 503 "try again shortly": nothing was spent, and the client's retry
// gets the tokens. The grant had been taken first, so the retry was treated
// as a replayed code, which revoked the grant: the person had to sign in
// again. What may fail now comes before the grant is taken, and the identity
// written again replaces the first try's.
func TestCodeExchangeRetriedAfterAStoreFailure(t *testing.T) {
	s := newHostileSetup(t)
	flaky := &failingPut{Store: s.store}
	s.p.opts.Store = flaky
	groups := make([]any, 200)
	for i := range groups {
		groups[i] = fmt.Sprintf("group-%04d-%s", i, strings.Repeat("g", 20))
	}
	s.browser.login = &Login{Instance: "acme", AuthTime: s.now, UserInfo: sdk.UserInfo{ID: "ada"}, Claims: map[string]any{"groups": groups}}
	code := s.code(t, "openid offline_access")

	exchange := func() (int, string) {
		r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
			"code": {code}, "redirect_uri": {"https://app.test/cb"}})
		r.SetBasicAuth("web", webSecret)
		rec := s.do(r)
		return rec.Code, rec.Body.String()
	}
	flaky.fail.Store(true)
	if status, body := exchange(); status != http.StatusServiceUnavailable {
		t.Fatalf("exchange with the store away: %d %s, want 503", status, body)
	}
	if status, body := exchange(); status != http.StatusOK {
		t.Fatalf("the retry the 503 invited: %d %s, want the tokens", status, body)
	}
}
