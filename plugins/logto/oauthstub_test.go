package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
)

// oauthStub is Logto's OAuth 2.0 connector, configured as the instance "acme" against
// a stub whose token and userinfo endpoints answer the JSON the test sets.
type oauthStub struct {
	h               *host.Host
	token, userinfo atomic.Value // string
	n               atomic.Int64
	// While hang is set the token endpoint answers nothing, and says on hungUp
	// when its client went away.
	hang   atomic.Bool
	hungUp chan struct{}
	// callTimeout bounds each call of signIn (0: the host's bound).
	callTimeout time.Duration
}

const oauthStubSecret = "oauth-secret-77c2d9"

// startOAuthStub starts it; callTimeout bounds each call of a sign-in (0: the
// host's default). It is the calls' deadline, not the host's bound of every
// call: configuring the instance, the bridge's first call, loads the
// connector's npm module, which a loaded machine took more than 3 s to do.
func startOAuthStub(t *testing.T, extra map[string]any, callTimeout time.Duration) *oauthStub {
	t.Helper()
	o := &oauthStub{hungUp: make(chan struct{}, 1), callTimeout: callTimeout}
	o.token.Store(`{"access_token":"oauth-access-5e1f","token_type":"Bearer"}`)
	o.userinfo.Store(`{"id":"1"}`)
	s := newStub(t)
	answer := func(v *atomic.Value) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(v.Load().(string)))
		}
	}
	s.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if o.hang.Load() {
			<-r.Context().Done()
			select {
			case o.hungUp <- struct{}{}:
			default:
			}
			return
		}
		answer(&o.token)(w, r)
	})
	s.HandleFunc("/userinfo", answer(&o.userinfo))
	o.h = openHostWith(t, folder(t, nil, "oauth"), host.Options{})
	config := map[string]any{
		"authorizationEndpoint":     s.URL() + "/authorize",
		"tokenEndpoint":             s.URL() + "/token",
		"userInfoEndpoint":          s.URL() + "/userinfo",
		"clientId":                  "oauth-client",
		"clientSecret":              oauthStubSecret,
		"tokenEndpointResponseType": "json",
	}
	maps.Copy(config, extra)
	if err := o.h.Configure(context.Background(), []host.InstanceConfig{{ID: "acme", Plugin: "logto-oauth2", Config: mustJSON(t, config)}}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return o
}

// signIn runs one sign-in through the host and returns its callback too.
func (o *oauthStub) signIn(t *testing.T) (*host.UserInfoResult, map[string]string, error) {
	t.Helper()
	call := func() (context.Context, context.CancelFunc) {
		if o.callTimeout > 0 {
			return context.WithTimeout(context.Background(), o.callTimeout)
		}
		return context.Background(), func() {}
	}
	state := fmt.Sprintf("st-stub-%d", o.n.Add(1))
	ctx, cancel := call()
	auth, err := o.h.AuthorizationURI(ctx, "acme", callbackURL, state)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	cb := map[string]string{"state": state, "code": "code-9a7e-" + state}
	ctx, cancel = call()
	defer cancel()
	res, err := o.h.UserInfo(ctx, "acme", auth.Session, cb)
	return res, cb, err
}
