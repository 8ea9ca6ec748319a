package suite

import (
	"encoding/json"
	"net"
	"net/http"
	"time"
)

// RedirectURI is the app callback every case signs in with.
const RedirectURI = "https://app.example.com/callback/bench"

// ClientSecret is the benchmark client's secret at the stub provider.
const ClientSecret = "bench-secret-0123456789abcdef"

// ConnectorConfig is the one connector configuration of every case: Logto's OAuth
// 2.0 connector fields, read unchanged by idplug's oauth2 plugin, its in-process
// counterpart and Logto's connector. stubURL is the provider's base URL.
func ConnectorConfig(stubURL string) map[string]any {
	return map[string]any{
		"authorizationEndpoint":     stubURL + "/authorize",
		"tokenEndpoint":             stubURL + "/token",
		"userInfoEndpoint":          stubURL + "/userinfo",
		"clientId":                  "bench-client",
		"clientSecret":              ClientSecret,
		"tokenEndpointAuthMethod":   "client_secret_post",
		"tokenEndpointResponseType": "json",
		"scope":                     "openid profile email",
		"profileMap":                map[string]string{"id": "id", "name": "name", "avatar": "avatar", "email": "email", "phone": "phone"},
	}
}

// ConnectorConfigJSON is ConnectorConfig encoded.
func ConnectorConfigJSON(stubURL string) json.RawMessage {
	b, err := json.Marshal(ConnectorConfig(stubURL))
	if err != nil {
		panic(err)
	}
	return b
}

// MaxIdleConnsPerHost is what the suite's own HTTP clients (the /v1 client and the
// golang.org/x/oauth2 floor) keep per host. net/http's default of 2 would make 14 of
// 16 concurrent workers open a new connection for every request; the oauth2 plugin's
// transport (sdk/oauth2kit) keeps 64 for the same reason.
const MaxIdleConnsPerHost = 64

// NewHTTPClient returns a keep-alive client for loopback calls, with
// MaxIdleConnsPerHost idle connections per host.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * MaxIdleConnsPerHost
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.IdleConnTimeout = 2 * time.Minute
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}
