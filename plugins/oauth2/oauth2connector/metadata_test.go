package oauth2connector

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

func TestMetadata(t *testing.T) {
	m := metadata()
	if m.ID != "oauth2" || m.Target != "oauth2" || m.Platform != sdk.PlatformUniversal || !m.IsStandard {
		t.Errorf("metadata = %s %s %s standard=%v", m.ID, m.Target, m.Platform, m.IsStandard)
	}
	if m.Name["en"] == "" || m.Description["en"] == "" {
		t.Error("no English name or description")
	}
	const prefix = "data:image/svg+xml;base64,"
	svg, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(m.Logo, prefix))
	if !strings.HasPrefix(m.Logo, prefix) || err != nil || !strings.HasPrefix(string(svg), "<svg") {
		t.Errorf("logo is not an inline SVG data URL: %.60s", m.Logo)
	}
	if _, err := parseConfig([]byte(m.ConfigTemplate)); err != nil {
		t.Errorf("the config template does not parse: %v", err)
	}
}

// TestEveryFieldIsInTheFormAndTheReadme keeps config, form items and README.md in step.
func TestEveryFieldIsInTheFormAndTheReadme(t *testing.T) {
	items := map[string]sdk.FormItem{}
	for _, f := range formItems() {
		if _, dup := items[f.Key]; dup {
			t.Errorf("form item %q appears twice", f.Key)
		}
		items[f.Key] = f
	}
	fields := map[string]bool{}
	for _, name := range oauth2kit.ConfigKeys(config{}) {
		fields[name] = true
	}
	readme := metadata().Readme
	for name := range fields {
		if _, ok := items[name]; !ok {
			t.Errorf("config field %q has no form item", name)
		}
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("config field %q is not documented in README.md", name)
		}
	}
	for key := range items {
		if _, ok := fields[key]; !ok {
			t.Errorf("form item %q is not a config field", key)
		}
	}
}

func TestFormItems(t *testing.T) {
	logtoTypes := map[sdk.FormItemType]bool{sdk.FormText: true, sdk.FormMultilineText: true, sdk.FormNumber: true,
		sdk.FormSwitch: true, sdk.FormSelect: true, sdk.FormMultiSelect: true, sdk.FormJSON: true}
	for _, f := range formItems() {
		if !logtoTypes[f.Type] || f.Label == "" {
			t.Errorf("%s: type %q label %q", f.Key, f.Type, f.Label)
		}
		if _, err := json.Marshal(f.DefaultValue); err != nil {
			t.Errorf("%s: default value: %v", f.Key, err)
		}
		if f.Type == sdk.FormSelect && f.DefaultValue != nil && !hasSelectItem(f, f.DefaultValue) {
			t.Errorf("%s: default %v is not one of its choices", f.Key, f.DefaultValue)
		}
		wantConfidential := f.Key == "clientSecret" || f.Key == "privateKey"
		if f.Confidential != wantConfidential {
			t.Errorf("%s: confidential = %v", f.Key, f.Confidential)
		}
	}
	wantShown := map[string]string{
		"clientSecretJwtSigningAlgorithm": "client_secret_jwt",
		"privateKey":                      "private_key_jwt",
		"privateKeyId":                    "private_key_jwt",
		"privateKeySigningAlgorithm":      "private_key_jwt",
	}
	for _, f := range formItems() {
		method, conditional := wantShown[f.Key]
		var want []sdk.ShowCondition
		if conditional {
			want = []sdk.ShowCondition{{TargetKey: "tokenEndpointAuthMethod", ExpectValue: method}}
		}
		if !reflect.DeepEqual(f.ShowConditions, want) {
			t.Errorf("%s: show conditions %+v, want %+v", f.Key, f.ShowConditions, want)
		}
	}
}

func hasSelectItem(f sdk.FormItem, v any) bool {
	for _, s := range f.SelectItems {
		if s.Value == v {
			return true
		}
	}
	return false
}
