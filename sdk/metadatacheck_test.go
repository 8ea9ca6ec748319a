package sdk_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// sound is metadata well within every bound, as a bundled connector declares it.
func sound() sdk.Metadata {
	return sdk.Metadata{
		ID: "oauth2", Target: "oauth2", Platform: sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "OAuth 2.0", "zh-CN": "OAuth 2.0"},
		Description: sdk.I18n{"en": "Sign in with any OAuth 2.0 provider.", "ko": "모든 OAuth 2.0 공급자로 로그인"},
		Logo:        "data:image/svg+xml;base64,PHN2Zy8+", LogoDark: "https://cdn.example.test/logo-dark.svg",
		Readme: "# OAuth 2.0\n\n\tfields...\n",
		FormItems: []sdk.FormItem{
			{Key: "clientId", Label: "Client ID", Type: sdk.FormText, Required: true},
			{Key: "scope", Label: "Scope", Type: sdk.FormSelect, DefaultValue: json.RawMessage(`"openid"`),
				SelectItems:    []sdk.SelectItem{{Value: "openid", Title: "OpenID"}},
				ShowConditions: []sdk.ShowCondition{{TargetKey: "clientId", ExpectValue: json.RawMessage(`{"x":[1]}`)}}},
		},
		ConfigTemplate: `{"clientId":""}`,
		EgressHosts:    []string{"api.example.test", "auth.example.test:8443"},
	}
}

// A plugin's metadata is served to anyone (the home page shows each instance's
// name and logo) and printed to operators: the host refuses metadata with an id
// that is no plugin name, or over a bound, and says which field and the bound.
func TestMetadataIsBounded(t *testing.T) {
	if err := sdk.CheckMetadata(sound()); err != nil {
		t.Fatalf("sound metadata refused: %v", err)
	}
	long := func(n int) string { return strings.Repeat("a", n) }
	many := func(n int) sdk.I18n {
		out := sdk.I18n{}
		for i := range n {
			out[fmt.Sprintf("l%d", i)] = "x"
		}
		return out
	}
	for name, tc := range map[string]struct {
		change func(*sdk.Metadata)
		want   string
	}{
		"no id":               {func(m *sdk.Metadata) { m.ID = "" }, "has no id"},
		"id with escapes":     {func(m *sdk.Metadata) { m.ID = "Evil\x1b]0;t\x07" }, `id "Evil\x1b]0;t\a" does not match`},
		"id with a space":     {func(m *sdk.Metadata) { m.ID = "a b" }, "does not match"},
		"id in capitals":      {func(m *sdk.Metadata) { m.ID = "OAuth2" }, "does not match"},
		"long id":             {func(m *sdk.Metadata) { m.ID = long(65) }, "id \"aaaa"},
		"long target":         {func(m *sdk.Metadata) { m.Target = long(129) }, "target has 129 bytes; at most 128"},
		"target escapes":      {func(m *sdk.Metadata) { m.Target = "gh\x1b[2J" }, `target "gh\x1b[2J" holds control characters`},
		"long name":           {func(m *sdk.Metadata) { m.Name["ja"] = long(257) }, `name["ja"] has 257 bytes; at most 256`},
		"long description":    {func(m *sdk.Metadata) { m.Description["en"] = long(257) }, `description["en"] has 257 bytes; at most 256`},
		"many languages":      {func(m *sdk.Metadata) { m.Name = many(33) }, "name has 33 languages; at most 32"},
		"bad language tag":    {func(m *sdk.Metadata) { m.Description = sdk.I18n{"en\n": "x"} }, `description has a language tag that is not one: "en\n"`},
		"big logo":            {func(m *sdk.Metadata) { m.Logo = "data:image/png;base64," + long(3<<20) }, "logo has 3145750 bytes; at most 65536"},
		"big dark logo":       {func(m *sdk.Metadata) { m.LogoDark = "https://x.test/" + long(64<<10) }, "logoDark has 65551 bytes; at most 65536"},
		"script logo":         {func(m *sdk.Metadata) { m.Logo = "javascript:alert(1)" }, `logo "javascript:alert(1)" is neither an http(s) URL nor a data:image/ URL`},
		"html logo":           {func(m *sdk.Metadata) { m.LogoDark = "data:text/html,<script>" }, "logoDark \"data:text/html,<script>\" is neither"},
		"relative logo":       {func(m *sdk.Metadata) { m.Logo = "./logo.svg" }, "is neither"},
		"big readme":          {func(m *sdk.Metadata) { m.Readme = long(512 << 10) }, "readme has 524288 bytes; at most 65536"},
		"big config template": {func(m *sdk.Metadata) { m.ConfigTemplate = long(64<<10 + 1) }, "configTemplate has 65537 bytes; at most 65536"},
		"many form items": {func(m *sdk.Metadata) {
			m.FormItems = make([]sdk.FormItem, 129)
		}, "declares 129 form items; at most 128"},
		"long form key":   {func(m *sdk.Metadata) { m.FormItems[0].Key = long(129) }, "form item 0: key has 129 bytes; at most 128"},
		"form key escape": {func(m *sdk.Metadata) { m.FormItems[0].Key = "k\x1b[31m" }, `form item 0 ("k\x1b[31m"): key holds control characters`},
		"long label":      {func(m *sdk.Metadata) { m.FormItems[1].Label = long(1025) }, `form item 1 ("scope"): label has 1025 bytes; at most 1024`},
		"long tooltip":    {func(m *sdk.Metadata) { m.FormItems[0].Tooltip = long(1025) }, "tooltip has 1025 bytes"},
		"long choice":     {func(m *sdk.Metadata) { m.FormItems[1].SelectItems[0].Title = long(1025) }, "selectItems[0].title has 1025 bytes"},
		"many choices": {func(m *sdk.Metadata) {
			m.FormItems[1].SelectItems = make([]sdk.SelectItem, 129)
		}, `form item 1 ("scope") has 129 select items; at most 128`},
		"many conditions": {func(m *sdk.Metadata) {
			m.FormItems[1].ShowConditions = make([]sdk.ShowCondition, 17)
		}, "has 17 show conditions; at most 16"},
		"default not JSON": {func(m *sdk.Metadata) { m.FormItems[1].DefaultValue = json.RawMessage(`{`) }, `form item 1 ("scope"): defaultValue is not JSON`},
		"expect not JSON":  {func(m *sdk.Metadata) { m.FormItems[1].ShowConditions[0].ExpectValue = json.RawMessage(`[1,`) }, "showConditions[0].expectValue is not JSON"},
		"big default": {func(m *sdk.Metadata) {
			m.FormItems[1].DefaultValue = json.RawMessage(`"` + long(4<<10) + `"`)
		}, "defaultValue has 4098 bytes; at most 4096"},
		"form items in all": {func(m *sdk.Metadata) {
			m.FormItems = nil
			for i := range 100 {
				m.FormItems = append(m.FormItems, sdk.FormItem{Key: fmt.Sprint(i), Label: long(1000)})
			}
		}, "form items have more than 65536 bytes of text and values in all"},
		"many egress hosts": {func(m *sdk.Metadata) {
			m.EgressHosts = make([]string, 65)
		}, "declares 65 egress hosts; at most 64"},
		"long egress host":    {func(m *sdk.Metadata) { m.EgressHosts = []string{long(261)} }, "declares an egress host of 261 bytes; at most 260"},
		"egress host escapes": {func(m *sdk.Metadata) { m.EgressHosts = []string{"evil\x1b[31m.test"} }, `declares an egress host that is not a host or host:port: "evil\x1b[31m.test"`},
	} {
		t.Run(name, func(t *testing.T) {
			md := sound()
			tc.change(&md)
			err := sdk.CheckMetadata(md)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckMetadata = %v; want an error saying %s", err, tc.want)
			}
			if len(err.Error()) > 300 {
				t.Errorf("a refusal of %d bytes: %.300s", len(err.Error()), err)
			}
		})
	}
}
