package oauth2kit

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/idplug/idplug/sdk"
)

func TestStandardConnectorMetadata(t *testing.T) {
	logo := `<svg xmlns="http://www.w3.org/2000/svg"/>`
	c := StandardConnector{
		Target:         "acme",
		Name:           sdk.I18n{"en": "Acme"},
		Description:    sdk.I18n{"en": "Sign in with Acme."},
		Docs:           fstest.MapFS{"README.md": {Data: []byte("# Acme")}, "logo.svg": {Data: []byte(logo)}},
		FormItems:      []sdk.FormItem{{Key: "clientId", Label: "Client ID", Type: sdk.FormText}},
		ConfigTemplate: `{"clientId": "<client-id>"}`,
	}
	m := c.Metadata()
	want := sdk.Metadata{
		ID: "acme", Target: "acme", Platform: sdk.PlatformUniversal, IsStandard: true,
		Name: c.Name, Description: c.Description, Readme: "# Acme", FormItems: c.FormItems, ConfigTemplate: c.ConfigTemplate,
		Logo: "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(logo)),
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("metadata\n %+v\nwant\n %+v", m, want)
	}

	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "logo.svg") {
			t.Errorf("docs without a logo: panic %v, want one naming logo.svg", r)
		}
	}()
	c.Docs = fstest.MapFS{"README.md": {Data: []byte("# Acme")}}
	c.Metadata()
}

func TestFormItemHelpers(t *testing.T) {
	if got := SelectItems("a", "b"); !reflect.DeepEqual(got, []sdk.SelectItem{{Value: "a", Title: "a"}, {Value: "b", Title: "b"}}) {
		t.Errorf("SelectItems = %v", got)
	}
	want := []sdk.ShowCondition{{TargetKey: "tokenEndpointAuthMethod", ExpectValue: "private_key_jwt"}}
	if got := ShowForAuthMethod(PrivateKeyJWT); !reflect.DeepEqual(got, want) {
		t.Errorf("ShowForAuthMethod = %v", got)
	}
}
