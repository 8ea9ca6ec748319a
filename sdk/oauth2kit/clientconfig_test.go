package oauth2kit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

func fieldsOf(p *sdk.ConfigError) string {
	var fields []string
	for _, f := range p.Fields {
		fields = append(fields, f.Field)
	}
	return strings.Join(fields, " ")
}

func TestClientConfigChecks(t *testing.T) {
	good := ClientConfig{ResponseType: "code", GrantType: "authorization_code", TokenEndpointResponseType: "query-string", PKCE: "none",
		CustomConfig: map[string]json.RawMessage{"audience": json.RawMessage(`"api"`)}, RequestTimeout: json.RawMessage(`"2s"`)}
	var p sdk.ConfigError
	good.CheckResponseAndGrantType(&p)
	format, custom, pkce, client := good.CheckResponseFormat(&p), good.CheckCustomConfig(&p), good.CheckPKCE(&p), good.CheckHTTPClient(&p, "idplug-test/1")
	if len(p.Fields) != 0 || format != FormatForm || custom["audience"] != "api" || pkce || client.Timeout() != 2*time.Second || client.userAgent != "idplug-test/1" {
		t.Errorf("format %v custom %v pkce %v timeout %v user agent %q, problems %v", format, custom, pkce, client.Timeout(), client.userAgent, p.Fields)
	}

	bad := ClientConfig{ResponseType: "token", GrantType: "implicit", TokenEndpointResponseType: "xml", PKCE: "plain",
		CustomConfig: map[string]json.RawMessage{"nonce": json.RawMessage(`"n"`)}, RequestTimeout: json.RawMessage(`"1h"`), UserAgent: "a\nb"}
	p = sdk.ConfigError{}
	bad.CheckResponseAndGrantType(&p)
	bad.CheckResponseFormat(&p)
	bad.CheckCustomConfig(&p, "nonce")
	bad.CheckPKCE(&p)
	bad.CheckHTTPClient(&p, "idplug-test/1")
	if got, want := fieldsOf(&p), "responseType grantType tokenEndpointResponseType customConfig.nonce pkce requestTimeout userAgent"; got != want {
		t.Errorf("problems on %s, want %s", got, want)
	}
}

func TestClientConfigKeepsLogtoNames(t *testing.T) {
	var c ClientConfig
	var p sdk.ConfigError
	raw := `{"authorizationEndpoint":"a","tokenEndpoint":"t","userInfoEndpoint":"u","clientId":"id","clientSecret":"s",
		"tokenEndpointAuthMethod":"none","clientSecretJwtSigningAlgorithm":"HS384","privateKey":"k","privateKeyId":"kid",
		"privateKeySigningAlgorithm":"ES256","clientAssertionAudience":"aud","scope":"openid","responseType":"code",
		"grantType":"authorization_code","tokenEndpointResponseType":"json","pkce":"S256","customConfig":{},
		"requestTimeout":"8s","caCertificates":"pem","userAgent":"ua","storeTokens":true}`
	if err := sdk.DecodeConfig([]byte(raw), &c, &p); err != nil || len(p.Fields) != 0 {
		t.Fatalf("err %v, problems %v", err, p.Fields)
	}
	if c.AuthorizationEndpoint != "a" || c.ClientAssertionAudience != "aud" || c.PrivateKeyID != "kid" || !c.StoreTokens || string(c.RequestTimeout) != `"8s"` {
		t.Errorf("decoded %+v", c)
	}
}
