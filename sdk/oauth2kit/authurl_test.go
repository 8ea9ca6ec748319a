package oauth2kit

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"reflect"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func TestAuthorizationURLMergesIntoExistingQuery(t *testing.T) {
	got, err := AuthorizationURL(AuthorizationRequest{
		Endpoint:      "https://id.example.com/oauth/authorize?tenant=acme&prompt=login",
		ClientID:      "client 1",
		RedirectURI:   "https://app.example.com/callback/acme",
		State:         "st",
		Scope:         "openid profile",
		CodeChallenge: "challenge",
		Extra:         map[string]string{"access_type": "offline", "camelCase": "kept as written"},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "id.example.com" || u.Path != "/oauth/authorize" {
		t.Errorf("URL = %s, want the endpoint's scheme, host and path", got)
	}
	want := url.Values{
		"tenant":                {"acme"},
		"prompt":                {"login"},
		"response_type":         {"code"},
		"client_id":             {"client 1"},
		"redirect_uri":          {"https://app.example.com/callback/acme"},
		"state":                 {"st"},
		"scope":                 {"openid profile"},
		"code_challenge":        {"challenge"},
		"code_challenge_method": {"S256"},
		"access_type":           {"offline"},
		"camelCase":             {"kept as written"},
	}
	if !reflect.DeepEqual(u.Query(), want) {
		t.Errorf("query = %v\nwant    %v", u.Query(), want)
	}
}

func TestAuthorizationURLProtocolParamsWinOverTheEndpointQuery(t *testing.T) {
	got, err := AuthorizationURL(AuthorizationRequest{
		Endpoint:    "https://id.example.com/authorize?state=evil&redirect_uri=https://evil.example&client_id=other",
		ClientID:    "client",
		RedirectURI: "https://app.example.com/cb",
		State:       "good",
	})
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, got)
	if q.Get("state") != "good" || q.Get("redirect_uri") != "https://app.example.com/cb" || q.Get("client_id") != "client" {
		t.Errorf("query = %v: the protocol parameters must replace the endpoint's", q)
	}
	if len(q["state"]) != 1 {
		t.Errorf("state sent %d times", len(q["state"]))
	}
}

func TestAuthorizationURLWithoutScopeOrPKCE(t *testing.T) {
	got, err := AuthorizationURL(AuthorizationRequest{
		Endpoint: "https://id.example.com/authorize", ClientID: "c", RedirectURI: "https://app/cb", State: "s",
	})
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, got)
	for _, k := range []string{"scope", "code_challenge", "code_challenge_method"} {
		if q.Has(k) {
			t.Errorf("%s is sent though it was not asked for: %s", k, got)
		}
	}
}

func TestAuthorizationURLRefusesExtraProtocolParams(t *testing.T) {
	for name := range protocolParams {
		_, err := AuthorizationURL(AuthorizationRequest{
			Endpoint: "https://id.example.com/authorize", ClientID: "c", RedirectURI: "https://app/cb", State: "s",
			Extra: map[string]string{name: "x"},
		})
		e := wantCode(t, err, sdk.CodeInvalidConfig)
		if e.Details["parameter"] != name {
			t.Errorf("details = %v, want the parameter %q named", e.Details, name)
		}
	}
}

func TestAuthorizationURLRefusesRelativeEndpoint(t *testing.T) {
	_, err := AuthorizationURL(AuthorizationRequest{Endpoint: "/authorize", ClientID: "c", RedirectURI: "https://app/cb", State: "s"})
	wantCode(t, err, sdk.CodeInvalidConfig)
}

func TestNewPKCE(t *testing.T) {
	a, b := NewPKCE(), NewPKCE()
	if a.Verifier == b.Verifier {
		t.Error("two verifiers are equal")
	}
	if len(a.Verifier) < 43 || len(a.Verifier) > 128 {
		t.Errorf("verifier length %d is outside RFC 7636's 43..128", len(a.Verifier))
	}
	sum := sha256.Sum256([]byte(a.Verifier))
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); a.Challenge != want {
		t.Errorf("challenge = %s, want BASE64URL(SHA256(verifier)) = %s", a.Challenge, want)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
