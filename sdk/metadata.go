package sdk

// Metadata describes a connector to operators and to sign-in pages. Its fields and JSON
// names follow Logto's connector metadata.
type Metadata struct {
	// ID is unique among the plugins of a host, for example "oauth2".
	ID string `json:"id"`
	// Target is the identity provider's name, for example "github". Operators may
	// override it per instance for standard connectors.
	Target   string   `json:"target"`
	Platform Platform `json:"platform"`
	// Name and Description are keyed by language tag; "en" is required.
	Name        I18n   `json:"name"`
	Description I18n   `json:"description"`
	Logo        string `json:"logo"`
	LogoDark    string `json:"logoDark,omitempty"`
	// Readme is operator documentation in Markdown.
	Readme string `json:"readme"`
	// IsStandard marks a protocol connector (OAuth 2.0, OIDC) that can be configured
	// many times, once per provider.
	IsStandard     bool       `json:"isStandard"`
	FormItems      []FormItem `json:"formItems,omitempty"`
	ConfigTemplate string     `json:"configTemplate,omitempty"`
	// EgressHosts are the hosts the connector reaches that no configuration
	// names (a provider's fixed API hosts), as "host" (port 443) or "host:port".
	// Under the sandbox's egress proxy the plugin reaches only these and the
	// hosts its instances' configurations name; operators see them in
	// `idplug plugins` and may narrow them (sandbox.egress_allow).
	EgressHosts []string `json:"egressHosts,omitempty"`
}

// I18n holds a phrase by language tag ("en", "ja", "zh-CN"...).
type I18n map[string]string

// Platform says where a social connector can be used.
type Platform string

// Logto's connector platforms.
const (
	PlatformUniversal Platform = "Universal"
	PlatformWeb       Platform = "Web"
	PlatformNative    Platform = "Native"
)

// FormItemType is the kind of input a config form shows for a field.
type FormItemType string

// Logto's config form item types.
const (
	FormText          FormItemType = "Text"
	FormMultilineText FormItemType = "MultilineText"
	FormNumber        FormItemType = "Number"
	FormSwitch        FormItemType = "Switch"
	FormSelect        FormItemType = "Select"
	FormMultiSelect   FormItemType = "MultiSelect"
	FormJSON          FormItemType = "Json"
)

// FormItem describes one configuration field.
type FormItem struct {
	Key         string       `json:"key"`
	Label       string       `json:"label"`
	Type        FormItemType `json:"type"`
	Required    bool         `json:"required,omitempty"`
	Placeholder string       `json:"placeholder,omitempty"`
	// DefaultValue must encode to JSON.
	DefaultValue any    `json:"defaultValue,omitempty"`
	Description  string `json:"description,omitempty"`
	Tooltip      string `json:"tooltip,omitempty"`
	// Confidential fields (secrets, private keys) are masked in forms and never logged.
	Confidential   bool            `json:"isConfidential,omitempty"`
	SelectItems    []SelectItem    `json:"selectItems,omitempty"`
	ShowConditions []ShowCondition `json:"showConditions,omitempty"`
}

// SelectItem is one choice of a Select or MultiSelect field.
type SelectItem struct {
	Value string `json:"value"`
	Title string `json:"title,omitempty"`
}

// ShowCondition shows a field only when another field has the expected value.
type ShowCondition struct {
	TargetKey   string `json:"targetKey"`
	ExpectValue any    `json:"expectValue,omitempty"`
}
