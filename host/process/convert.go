package process

// Conversions from wire messages to the SDK's plain types, host side.

import (
	"encoding/json"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
)

var platformFromProto = map[connectorv1.Platform]sdk.Platform{
	connectorv1.Platform_PLATFORM_UNIVERSAL: sdk.PlatformUniversal,
	connectorv1.Platform_PLATFORM_WEB:       sdk.PlatformWeb,
	connectorv1.Platform_PLATFORM_NATIVE:    sdk.PlatformNative,
}

var formItemTypeFromProto = map[connectorv1.FormItemType]sdk.FormItemType{
	connectorv1.FormItemType_FORM_ITEM_TYPE_TEXT:           sdk.FormText,
	connectorv1.FormItemType_FORM_ITEM_TYPE_MULTILINE_TEXT: sdk.FormMultilineText,
	connectorv1.FormItemType_FORM_ITEM_TYPE_NUMBER:         sdk.FormNumber,
	connectorv1.FormItemType_FORM_ITEM_TYPE_SWITCH:         sdk.FormSwitch,
	connectorv1.FormItemType_FORM_ITEM_TYPE_SELECT:         sdk.FormSelect,
	connectorv1.FormItemType_FORM_ITEM_TYPE_MULTI_SELECT:   sdk.FormMultiSelect,
	connectorv1.FormItemType_FORM_ITEM_TYPE_JSON:           sdk.FormJSON,
}

func metadataFromProto(m *connectorv1.Metadata) sdk.Metadata {
	out := sdk.Metadata{
		ID:             m.GetId(),
		Target:         m.GetTarget(),
		Platform:       platformFromProto[m.GetPlatform()],
		Name:           m.GetName(),
		Description:    m.GetDescription(),
		Logo:           m.GetLogo(),
		LogoDark:       m.GetLogoDark(),
		Readme:         m.GetReadme(),
		IsStandard:     m.GetIsStandard(),
		ConfigTemplate: m.GetConfigTemplate(),
	}
	for _, f := range m.GetFormItems() {
		item := sdk.FormItem{
			Key:          f.GetKey(),
			Label:        f.GetLabel(),
			Type:         formItemTypeFromProto[f.GetType()],
			Required:     f.GetRequired(),
			Placeholder:  f.GetPlaceholder(),
			DefaultValue: rawOrNil(f.GetDefaultValueJson()),
			Description:  f.GetDescription(),
			Tooltip:      f.GetTooltip(),
			Confidential: f.GetConfidential(),
		}
		for _, s := range f.GetSelectItems() {
			item.SelectItems = append(item.SelectItems, sdk.SelectItem{Value: s.GetValue(), Title: s.GetTitle()})
		}
		for _, c := range f.GetShowConditions() {
			item.ShowConditions = append(item.ShowConditions, sdk.ShowCondition{TargetKey: c.GetTargetKey(), ExpectValue: rawOrNil(c.GetExpectValueJson())})
		}
		out.FormItems = append(out.FormItems, item)
	}
	return out
}

// rawOrNil keeps a JSON value as it came, so it encodes back unchanged.
func rawOrNil(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

func userInfoFromProto(u *connectorv1.UserInfo) sdk.UserInfo {
	return sdk.UserInfo{
		ID:      u.GetId(),
		Name:    u.Name,
		Avatar:  u.Avatar,
		Email:   u.Email,
		Phone:   u.Phone,
		RawData: u.GetRawDataJson(),
	}
}

func tokenSetFromProto(t *connectorv1.TokenSet) *sdk.TokenSet {
	if t == nil {
		return nil
	}
	out := &sdk.TokenSet{
		AccessToken:  t.GetAccessToken(),
		RefreshToken: t.GetRefreshToken(),
		IDToken:      t.GetIdToken(),
		TokenType:    t.GetTokenType(),
		Scope:        t.GetScope(),
	}
	if t.GetExpiresAt() != nil {
		out.ExpiresAt = t.GetExpiresAt().AsTime()
	}
	return out
}

func errorFromDetail(d *connectorv1.ConnectorError) *sdk.Error {
	e := &sdk.Error{Code: sdk.ErrorCode(d.GetCode()), Message: d.GetMessage()}
	if e.Code == "" {
		e.Code = sdk.CodeGeneral
	}
	if len(d.GetDetailsJson()) > 0 {
		var details map[string]any
		if json.Unmarshal(d.GetDetailsJson(), &details) == nil {
			e.Details = details
		}
	}
	return e
}

// authorizationRequestToProto leaves scope absent when the caller asked for none, so
// the plugin uses its configured one.
func authorizationRequestToProto(in *connectorv1.Instance, req sdk.AuthorizationRequest) *connectorv1.GetAuthorizationUriRequest {
	out := &connectorv1.GetAuthorizationUriRequest{Instance: in, RedirectUri: req.RedirectURI, State: req.State}
	if req.Scope != "" {
		out.Scope = &req.Scope
	}
	return out
}
