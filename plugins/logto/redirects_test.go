package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// TestRedirectsAreNotFollowed: a token endpoint's redirect sent the token request
// on to whatever host it named: got posted the form again, the client secret and
// the code in it (on 301, 302, 307 and 308), and fetch followed a 303 as a GET (and
// any redirect of a GET), whose answer the connector took for the provider's; with
// egress open a redirect could lead a connector to any address of the network. The
// bridge follows none, as idplug's own connectors do: the sign-in is
// invalid_response, and the other host hears nothing.
func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{
		{"github", http.StatusSeeOther}, // fetch (ky): followed as a GET
		{"discord", http.StatusFound},   // node:https (got): the form posted again
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var heard []string
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				mu.Lock()
				heard = append(heard, r.Method+" "+r.URL.Path+" "+r.PostForm.Encode())
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"elsewhere","token_type":"bearer"}`))
			}))
			t.Cleanup(elsewhere.Close)
			p := providerNamed(t, tc.name)
			h, s, c := startProvider(t, p)
			s.HandleFunc(p.tokenPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/collect", tc.status)
			})
			auth, cb := begin(t, h, p, c, "st-redirect")
			_, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
			mu.Lock()
			defer mu.Unlock()
			if len(heard) > 0 {
				t.Fatalf("the token endpoint's redirect (HTTP %d) was followed to another host, which heard %q", tc.status, heard)
			}
			wantCode(t, "a token endpoint's redirect", err, sdk.CodeInvalidResponse)
			if err == nil || !strings.Contains(err.Error(), "redirect") {
				t.Errorf("err = %v; want it to say the provider redirected", err)
			}
			noLeak(t, "a token endpoint's redirect", err, p.secret, cb)
		})
	}
}
