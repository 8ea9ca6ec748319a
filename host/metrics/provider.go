package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// ProviderEvents are the OpenID Provider's events; any other name counts as
// "other", so the series stay bounded whatever calls ProviderEvent.
var ProviderEvents = []string{
	"code",                 // an authorization code issued
	"token",                // a code exchanged for tokens
	"refresh",              // a refresh token rotated
	"revoked",              // a grant revoked at /revoke
	"end_session",          // a browser signed out at /end_session
	"denied",               // the person refused an app on the device (Cancel)
	"replayed_code",        // a code exchanged twice: its grant revoked
	"reused_refresh_token", // a refresh token used twice: its grant revoked
	"replayed_assertion",   // a private_key_jwt assertion used twice
	"refused_client",       // a failed client authentication
	"throttled",            // a client refused with 429 after too many failures
	"other_browser",        // a pending sign-in request's id used in a browser that did not make it
}

func newProviderEvents() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idplug_provider_events_total",
		Help: "The OpenID Provider's events: code, token, refresh, revoked, end_session, denied, replayed_code, reused_refresh_token, replayed_assertion, refused_client, throttled, other_browser (other for any other name).",
	}, []string{"event"})
}

// ProviderEvent counts an event of the OpenID Provider; use it as
// oidcprovider.Options.OnEvent.
func (m *Metrics) ProviderEvent(event string) {
	if !slices.Contains(ProviderEvents, event) {
		event = "other"
	}
	m.providerEvents.WithLabelValues(event).Inc()
}
