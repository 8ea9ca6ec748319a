package oauth2kit

import (
	"encoding/base64"
	"fmt"
	"io/fs"

	"github.com/idplug/idplug/sdk"
)

// StandardConnector is what tells one standard connector's metadata from
// another's. A standard connector signs in with any provider of a protocol (Logto's
// isStandard: an operator may configure it many times, once per provider), on
// every platform, and its id is its target.
type StandardConnector struct {
	Target      string // also the connector's id
	Name        sdk.I18n
	Description sdk.I18n
	// Docs holds README.md, the operator documentation, and logo.svg: files beside
	// the code (go:embed), so they read well on their own and cannot drift from what
	// the connector reports.
	Docs           fs.FS
	FormItems      []sdk.FormItem
	ConfigTemplate string
	// EgressHosts are the hosts the connector reaches that no configuration
	// names (see sdk.Metadata.EgressHosts).
	EgressHosts []string
}

// Metadata is the connector's metadata, its logo inlined as a data URL. It panics
// when Docs lacks README.md or logo.svg, which go:embed rules out at build time.
func (c StandardConnector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		ID:             c.Target,
		Target:         c.Target,
		Platform:       sdk.PlatformUniversal,
		Name:           c.Name,
		Description:    c.Description,
		Logo:           "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(mustRead(c.Docs, "logo.svg")),
		Readme:         string(mustRead(c.Docs, "README.md")),
		IsStandard:     true,
		FormItems:      c.FormItems,
		ConfigTemplate: c.ConfigTemplate,
		EgressHosts:    c.EgressHosts,
	}
}

func mustRead(docs fs.FS, name string) []byte {
	b, err := fs.ReadFile(docs, name)
	if err != nil {
		panic(fmt.Sprintf("oauth2kit: the connector's docs have no %s: %v", name, err))
	}
	return b
}

// SelectItems are a select form item's choices, each titled with its value.
func SelectItems(values ...string) []sdk.SelectItem {
	items := make([]sdk.SelectItem, len(values))
	for i, v := range values {
		items[i] = sdk.SelectItem{Value: v, Title: v}
	}
	return items
}

// ShowForAuthMethod shows a form item only while tokenEndpointAuthMethod is m: the
// fields of one client authentication method.
func ShowForAuthMethod(m AuthMethod) []sdk.ShowCondition {
	return []sdk.ShowCondition{{TargetKey: "tokenEndpointAuthMethod", ExpectValue: string(m)}}
}
