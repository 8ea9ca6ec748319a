package oauth2kit

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// embeddingConfig is a connector's config in the shape DecodeConfig is for.
type embeddingConfig struct {
	ClientConfig
	Issuer  string          `json:"issuer"`
	Fetch   *bool           `json:"fetch"`
	Nested  json.RawMessage `json:"nested"`
	Ignored string          `json:"-"`
}

// flatConfig has the same keys, written out.
type flatConfig struct {
	AuthorizationEndpoint           string                     `json:"authorizationEndpoint"`
	TokenEndpoint                   string                     `json:"tokenEndpoint"`
	UserInfoEndpoint                string                     `json:"userInfoEndpoint"`
	ClientID                        string                     `json:"clientId"`
	ClientSecret                    string                     `json:"clientSecret"`
	TokenEndpointAuthMethod         string                     `json:"tokenEndpointAuthMethod"`
	ClientSecretJWTSigningAlgorithm string                     `json:"clientSecretJwtSigningAlgorithm"`
	PrivateKey                      string                     `json:"privateKey"`
	PrivateKeyID                    string                     `json:"privateKeyId"`
	PrivateKeySigningAlgorithm      string                     `json:"privateKeySigningAlgorithm"`
	ClientAssertionAudience         string                     `json:"clientAssertionAudience"`
	Scope                           string                     `json:"scope"`
	ResponseType                    string                     `json:"responseType"`
	GrantType                       string                     `json:"grantType"`
	TokenEndpointResponseType       string                     `json:"tokenEndpointResponseType"`
	PKCE                            string                     `json:"pkce"`
	CustomConfig                    map[string]json.RawMessage `json:"customConfig"`
	RequestTimeout                  json.RawMessage            `json:"requestTimeout"`
	CACertificates                  string                     `json:"caCertificates"`
	UserAgent                       string                     `json:"userAgent"`
	StoreTokens                     bool                       `json:"storeTokens"`
	Issuer                          string                     `json:"issuer"`
	Fetch                           *bool                      `json:"fetch"`
	Nested                          json.RawMessage            `json:"nested"`
}

// TestDecodeConfigReadsEmbeddedFieldsAsTopLevelKeys checks that a config that embeds
// ClientConfig decodes, and fails, exactly as the same fields written out do under
// sdk.DecodeConfig.
func TestDecodeConfigReadsEmbeddedFieldsAsTopLevelKeys(t *testing.T) {
	inputs := []string{
		`{}`,
		`{"clientId":"c","clientSecret":"s","scope":"openid","issuer":"https://id.example.com","fetch":true}`,
		`{"customConfig":{"a":"b"},"requestTimeout":"8s","nested":{"x":[1]},"storeTokens":true}`,
		`{"clientId":null,"fetch":null,"customConfig":null}`,
		`{"clientID":"c","ISSUER":"x","unknown":1,"Ignored":"x","ClientConfig":{}}`,
		`{"clientId":5,"storeTokens":"yes","fetch":"no","customConfig":[],"scope":{},"nested":1,"requestTimeout":true}`,
		`{"zzz":1,"aaa":2,"pkce":3}`,
	}
	for _, raw := range inputs {
		var embedded embeddingConfig
		var got sdk.ConfigError
		if err := DecodeConfig([]byte(raw), &embedded, &got); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var flat flatConfig
		var want sdk.ConfigError
		if err := sdk.DecodeConfig([]byte(raw), &flat, &want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if !reflect.DeepEqual(got.Fields, want.Fields) {
			t.Errorf("%s: problems\n %v\nwant\n %v", raw, got.Fields, want.Fields)
		}
		gotJSON, _ := json.Marshal(embedded)
		wantJSON, _ := json.Marshal(flat)
		var gotValues, wantValues map[string]any
		_ = json.Unmarshal(gotJSON, &gotValues)
		_ = json.Unmarshal(wantJSON, &wantValues)
		if !reflect.DeepEqual(gotValues, wantValues) {
			t.Errorf("%s: decoded\n %s\nwant\n %s", raw, gotJSON, wantJSON)
		}
	}
}

func TestDecodeConfigOuterFieldShadowsEmbedded(t *testing.T) {
	var cfg struct {
		ClientConfig
		Scope []string `json:"scope"` // a connector that takes a list instead
	}
	var p sdk.ConfigError
	if err := DecodeConfig([]byte(`{"scope":["openid","email"]}`), &cfg, &p); err != nil || len(p.Fields) != 0 {
		t.Fatalf("err %v, problems %v", err, p.Fields)
	}
	if strings.Join(cfg.Scope, " ") != "openid email" || cfg.ClientConfig.Scope != "" {
		t.Errorf("outer scope %v, embedded scope %q", cfg.Scope, cfg.ClientConfig.Scope)
	}
}

func TestDecodeConfigRefusesWhatSDKRefuses(t *testing.T) {
	var cfg embeddingConfig
	var p sdk.ConfigError
	if err := DecodeConfig([]byte(`[]`), &cfg, &p); err == nil {
		t.Error("a JSON array decoded")
	}
	if err := DecodeConfig([]byte(`{}`), cfg, &p); err == nil {
		t.Error("a struct that is not a pointer decoded")
	}
}

func TestParseConfig(t *testing.T) {
	type instance struct{ issuer string }
	build := func(c *embeddingConfig, p *sdk.ConfigError) *instance {
		if c.Issuer == "" {
			p.Add("issuer", "is required")
		}
		return &instance{issuer: c.Issuer}
	}
	in, err := ParseConfig([]byte(`{"issuer":"https://id.example.com"}`), build)
	if err != nil || in == nil || in.issuer != "https://id.example.com" {
		t.Fatalf("ParseConfig = %v, %v", in, err)
	}
	in, err = ParseConfig([]byte(`{"clientId":5}`), build)
	var ce *sdk.ConfigError
	if in != nil || !errors.As(err, &ce) || fieldsOf(ce) != "clientId issuer" {
		t.Errorf("ParseConfig = %v, %v; want no instance and the problems of decoding, then of build", in, err)
	}
	if _, err := ParseConfig([]byte(`"x"`), build); err == nil || errors.As(err, &ce) {
		t.Errorf("a JSON string: err = %v, want an *sdk.Error", err)
	}
}

func TestConfigKeys(t *testing.T) {
	got := ConfigKeys(embeddingConfig{})
	want := ConfigKeys(&flatConfig{})
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(got) != reflect.TypeFor[flatConfig]().NumField() {
		t.Errorf("ConfigKeys = %v, want %v", got, want)
	}
}
