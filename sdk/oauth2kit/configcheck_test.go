package oauth2kit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

func TestHTTPSettingsRequestTimeout(t *testing.T) {
	ok := map[string]time.Duration{`"8s"`: 8 * time.Second, `"1500ms"`: 1500 * time.Millisecond, `2.5`: 2500 * time.Millisecond, `"3"`: 3 * time.Second, `9`: 9 * time.Second, ``: DefaultRequestTimeout}
	for raw, want := range ok {
		var p sdk.ConfigError
		c := HTTPSettings{RequestTimeout: json.RawMessage(raw), DefaultUserAgent: "t/1"}.Check(&p)
		if len(p.Fields) > 0 || c.Timeout() != want {
			t.Errorf("requestTimeout %s = %v, %v; want %v", raw, c.Timeout(), p.Fields, want)
		}
	}
	bad := map[string]string{`"10s"`: "at most 9s", `10`: "at most 9s", `1e300`: "at most 9s", `0`: "more than zero", `"-1s"`: "more than zero", `-1e300`: "more than zero", `"soon"`: "duration", `true`: "duration"}
	for raw, says := range bad {
		var p sdk.ConfigError
		HTTPSettings{RequestTimeout: json.RawMessage(raw)}.Check(&p)
		if len(p.Fields) != 1 || p.Fields[0].Field != "requestTimeout" || !strings.Contains(p.Fields[0].Message, says) {
			t.Errorf("requestTimeout %s: problems %v, want one on requestTimeout saying %q", raw, p.Fields, says)
		}
	}
	var p sdk.ConfigError
	HTTPSettings{UserAgent: "a\r\nX-Injected: 1", CACertificates: "not pem"}.Check(&p)
	if len(p.Fields) != 2 || p.Fields[0].Field != "userAgent" || p.Fields[1].Field != "caCertificates" {
		t.Errorf("problems %v, want userAgent and caCertificates", p.Fields)
	}
}

func TestSharedConfigChecks(t *testing.T) {
	var p sdk.ConfigError
	if CheckResponseFormat("", &p) != FormatAuto || CheckResponseFormat("json", &p) != FormatJSON || CheckResponseFormat("query-string", &p) != FormatForm || len(p.Fields) != 0 {
		t.Errorf("valid response formats: %v", p.Fields)
	}
	CheckResponseFormat("xml", &p)
	if !CheckPKCE("", &p) || CheckPKCE("none", &p) || !CheckPKCE("plain", &p) {
		t.Error("pkce values read wrongly")
	}
	custom := CheckCustomConfig(map[string]json.RawMessage{
		"audience": json.RawMessage(`"api"`), "state": json.RawMessage(`"x"`), "nonce": json.RawMessage(`"n"`),
		"n": json.RawMessage(`1`), "": json.RawMessage(`"e"`),
	}, &p, "nonce")
	if len(custom) != 1 || custom["audience"] != "api" {
		t.Errorf("customConfig kept %v, want only audience", custom)
	}
	var fields []string
	for _, f := range p.Fields {
		fields = append(fields, f.Field)
	}
	want := "tokenEndpointResponseType pkce customConfig customConfig.n customConfig.nonce customConfig.state"
	if strings.Join(fields, " ") != want {
		t.Errorf("problems on %v, want %s", fields, want)
	}
}
