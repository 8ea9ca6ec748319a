package main

import (
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// TestProviderRequestsEndWithTheirCall: Logto's connectors give their provider
// requests timeouts of their own, longer than a call (ky's ten seconds for the
// OAuth 2.0 connector's token request): the call ended at its deadline (or the host
// gave up on the plugin, plugin_timeout) while the request ran on in Node, holding
// its connection and whatever it had read. The bridge now ends a call's requests
// before the call's deadline: the sign-in is provider_timeout, within the deadline,
// and the provider's connection is closed with it.
func TestProviderRequestsEndWithTheirCall(t *testing.T) {
	const callTimeout = 3 * time.Second
	o := startOAuthStub(t, nil, callTimeout)
	o.hang.Store(true)
	start := time.Now()
	_, cb, err := o.signIn(t)
	took := time.Since(start)
	wantCode(t, "a token endpoint that answers nothing", err, sdk.CodeProviderTimeout)
	if took > callTimeout+time.Second {
		t.Errorf("the sign-in took %s with a call timeout of %s", took.Round(time.Millisecond), callTimeout)
	}
	select {
	case <-o.hungUp:
	case <-time.After(time.Second):
		t.Errorf("the token request was still open a second after its call ended")
	}
	noLeak(t, "a token endpoint that answers nothing", err, oauthStubSecret, cb)
}
