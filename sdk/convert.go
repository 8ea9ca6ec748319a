package sdk

// Conversions between the SDK's plain types and the wire messages, server side.

import (
	"encoding/json"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var platformToProto = map[Platform]connectorv1.Platform{
	PlatformUniversal: connectorv1.Platform_PLATFORM_UNIVERSAL,
	PlatformWeb:       connectorv1.Platform_PLATFORM_WEB,
	PlatformNative:    connectorv1.Platform_PLATFORM_NATIVE,
}

var formItemTypeToProto = map[FormItemType]connectorv1.FormItemType{
	FormText:          connectorv1.FormItemType_FORM_ITEM_TYPE_TEXT,
	FormMultilineText: connectorv1.FormItemType_FORM_ITEM_TYPE_MULTILINE_TEXT,
	FormNumber:        connectorv1.FormItemType_FORM_ITEM_TYPE_NUMBER,
	FormSwitch:        connectorv1.FormItemType_FORM_ITEM_TYPE_SWITCH,
	FormSelect:        connectorv1.FormItemType_FORM_ITEM_TYPE_SELECT,
	FormMultiSelect:   connectorv1.FormItemType_FORM_ITEM_TYPE_MULTI_SELECT,
	FormJSON:          connectorv1.FormItemType_FORM_ITEM_TYPE_JSON,
}

func metadataToProto(m Metadata) (*connectorv1.Metadata, error) {
	items := make([]*connectorv1.FormItem, 0, len(m.FormItems))
	for _, f := range m.FormItems {
		item, err := formItemToProto(f)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return &connectorv1.Metadata{
		Id:             m.ID,
		Target:         m.Target,
		Platform:       platformToProto[m.Platform],
		Name:           m.Name,
		Description:    m.Description,
		Logo:           m.Logo,
		LogoDark:       m.LogoDark,
		Readme:         m.Readme,
		IsStandard:     m.IsStandard,
		FormItems:      items,
		ConfigTemplate: m.ConfigTemplate,
	}, nil
}

func formItemToProto(f FormItem) (*connectorv1.FormItem, error) {
	def, err := jsonOrNil(f.DefaultValue)
	if err != nil {
		return nil, Errorf(CodeInvalidMetadata, "form item %q: default value: %v", f.Key, err)
	}
	item := &connectorv1.FormItem{
		Key:              f.Key,
		Label:            f.Label,
		Type:             formItemTypeToProto[f.Type],
		Required:         f.Required,
		Placeholder:      f.Placeholder,
		DefaultValueJson: def,
		Description:      f.Description,
		Tooltip:          f.Tooltip,
		Confidential:     f.Confidential,
	}
	for _, s := range f.SelectItems {
		item.SelectItems = append(item.SelectItems, &connectorv1.SelectItem{Value: s.Value, Title: s.Title})
	}
	for _, c := range f.ShowConditions {
		expect, err := jsonOrNil(c.ExpectValue)
		if err != nil {
			return nil, Errorf(CodeInvalidMetadata, "form item %q: show condition: %v", f.Key, err)
		}
		item.ShowConditions = append(item.ShowConditions, &connectorv1.ShowCondition{TargetKey: c.TargetKey, ExpectValueJson: expect})
	}
	return item, nil
}

func jsonOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

func userInfoToProto(u UserInfo) *connectorv1.UserInfo {
	return &connectorv1.UserInfo{
		Id:          u.ID,
		Name:        u.Name,
		Avatar:      u.Avatar,
		Email:       u.Email,
		Phone:       u.Phone,
		RawDataJson: u.RawData,
	}
}

func tokenSetToProto(t *TokenSet) *connectorv1.TokenSet {
	if t == nil {
		return nil
	}
	out := &connectorv1.TokenSet{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		IdToken:      t.IDToken,
		TokenType:    t.TokenType,
		Scope:        t.Scope,
	}
	if !t.ExpiresAt.IsZero() {
		out.ExpiresAt = timestamppb.New(t.ExpiresAt)
	}
	return out
}

func errorToProto(e *Error) *connectorv1.ConnectorError {
	out := &connectorv1.ConnectorError{Code: string(e.Code), Message: e.Message}
	if len(e.Details) > 0 {
		if b, err := json.Marshal(e.Details); err == nil {
			out.DetailsJson = b
		}
	}
	return out
}

func authorizationRequestFromProto(req *connectorv1.GetAuthorizationUriRequest) AuthorizationRequest {
	return AuthorizationRequest{
		InstanceID:  req.GetInstance().GetId(),
		RedirectURI: req.GetRedirectUri(),
		State:       req.GetState(),
		Scope:       req.GetScope(),
	}
}
