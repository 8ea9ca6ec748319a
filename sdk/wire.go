package sdk

// Conversions between the SDK's plain types and the wire messages, in both
// directions and in one place: the plugin side (Serve) and the host side use the
// same code and the same enum tables, so a field cannot cross one way and be
// dropped on the way back.

import (
	"encoding/json"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk/internal/jsonvalue"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Wire converts between the SDK's types and the wire messages. The host and the
// SDK's own server use it; connector authors never need it.
var Wire WireCodec

// WireCodec is the type of Wire: its methods are named for the message and the
// direction (ToProto: SDK to wire; FromProto: wire to SDK).
type WireCodec struct{}

// enumPair is one row of an enum table: the SDK's value and the wire's.
type enumPair[S comparable, W comparable] struct {
	sdk  S
	wire W
}

// enumTable maps an enum both ways from one list of pairs.
type enumTable[S comparable, W comparable] struct {
	toWire   map[S]W
	fromWire map[W]S
}

func newEnumTable[S comparable, W comparable](pairs ...enumPair[S, W]) enumTable[S, W] {
	t := enumTable[S, W]{toWire: make(map[S]W, len(pairs)), fromWire: make(map[W]S, len(pairs))}
	for _, p := range pairs {
		t.toWire[p.sdk], t.fromWire[p.wire] = p.wire, p.sdk
	}
	return t
}

var platforms = newEnumTable(
	enumPair[Platform, connectorv1.Platform]{PlatformUniversal, connectorv1.Platform_PLATFORM_UNIVERSAL},
	enumPair[Platform, connectorv1.Platform]{PlatformWeb, connectorv1.Platform_PLATFORM_WEB},
	enumPair[Platform, connectorv1.Platform]{PlatformNative, connectorv1.Platform_PLATFORM_NATIVE},
)

var formItemTypes = newEnumTable(
	enumPair[FormItemType, connectorv1.FormItemType]{FormText, connectorv1.FormItemType_FORM_ITEM_TYPE_TEXT},
	enumPair[FormItemType, connectorv1.FormItemType]{FormMultilineText, connectorv1.FormItemType_FORM_ITEM_TYPE_MULTILINE_TEXT},
	enumPair[FormItemType, connectorv1.FormItemType]{FormNumber, connectorv1.FormItemType_FORM_ITEM_TYPE_NUMBER},
	enumPair[FormItemType, connectorv1.FormItemType]{FormSwitch, connectorv1.FormItemType_FORM_ITEM_TYPE_SWITCH},
	enumPair[FormItemType, connectorv1.FormItemType]{FormSelect, connectorv1.FormItemType_FORM_ITEM_TYPE_SELECT},
	enumPair[FormItemType, connectorv1.FormItemType]{FormMultiSelect, connectorv1.FormItemType_FORM_ITEM_TYPE_MULTI_SELECT},
	enumPair[FormItemType, connectorv1.FormItemType]{FormJSON, connectorv1.FormItemType_FORM_ITEM_TYPE_JSON},
)

// MetadataToProto fails on a default or expected value that does not encode as JSON.
func (WireCodec) MetadataToProto(m Metadata) (*connectorv1.Metadata, error) {
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
		Platform:       platforms.toWire[m.Platform],
		Name:           m.Name,
		Description:    m.Description,
		Logo:           m.Logo,
		LogoDark:       m.LogoDark,
		Readme:         m.Readme,
		IsStandard:     m.IsStandard,
		FormItems:      items,
		ConfigTemplate: m.ConfigTemplate,
		EgressHosts:    m.EgressHosts,
	}, nil
}

func (WireCodec) MetadataFromProto(m *connectorv1.Metadata) Metadata {
	out := Metadata{
		ID:             m.GetId(),
		Target:         m.GetTarget(),
		Platform:       platforms.fromWire[m.GetPlatform()],
		Name:           m.GetName(),
		Description:    m.GetDescription(),
		Logo:           m.GetLogo(),
		LogoDark:       m.GetLogoDark(),
		Readme:         m.GetReadme(),
		IsStandard:     m.GetIsStandard(),
		ConfigTemplate: m.GetConfigTemplate(),
		EgressHosts:    m.GetEgressHosts(),
	}
	for _, f := range m.GetFormItems() {
		out.FormItems = append(out.FormItems, formItemFromProto(f))
	}
	return out
}

func formItemToProto(f FormItem) (*connectorv1.FormItem, error) {
	def, err := jsonOrNil(f.DefaultValue)
	if err != nil {
		return nil, Errorf(CodeInvalidMetadata, "form item %q: default value: %v", f.Key, err)
	}
	item := &connectorv1.FormItem{
		Key:              f.Key,
		Label:            f.Label,
		Type:             formItemTypes.toWire[f.Type],
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

func formItemFromProto(f *connectorv1.FormItem) FormItem {
	item := FormItem{
		Key:          f.GetKey(),
		Label:        f.GetLabel(),
		Type:         formItemTypes.fromWire[f.GetType()],
		Required:     f.GetRequired(),
		Placeholder:  f.GetPlaceholder(),
		DefaultValue: rawOrNil(f.GetDefaultValueJson()),
		Description:  f.GetDescription(),
		Tooltip:      f.GetTooltip(),
		Confidential: f.GetConfidential(),
	}
	for _, s := range f.GetSelectItems() {
		item.SelectItems = append(item.SelectItems, SelectItem{Value: s.GetValue(), Title: s.GetTitle()})
	}
	for _, c := range f.GetShowConditions() {
		item.ShowConditions = append(item.ShowConditions, ShowCondition{TargetKey: c.GetTargetKey(), ExpectValue: rawOrNil(c.GetExpectValueJson())})
	}
	return item
}

func jsonOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// rawOrNil keeps a JSON value as it came, so it encodes back unchanged.
func rawOrNil(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

func (WireCodec) UserInfoToProto(u UserInfo) *connectorv1.UserInfo {
	return &connectorv1.UserInfo{
		Id:          u.ID,
		Name:        u.Name,
		Avatar:      u.Avatar,
		Email:       u.Email,
		Phone:       u.Phone,
		RawDataJson: u.RawData,
	}
}

// UserInfoFromProto keeps absent and empty optional fields apart.
func (WireCodec) UserInfoFromProto(u *connectorv1.UserInfo) UserInfo {
	if u == nil {
		return UserInfo{}
	}
	return UserInfo{
		ID:      u.GetId(),
		Name:    u.Name,
		Avatar:  u.Avatar,
		Email:   u.Email,
		Phone:   u.Phone,
		RawData: u.GetRawDataJson(),
	}
}

func (WireCodec) TokenSetToProto(t *TokenSet) *connectorv1.TokenSet {
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

func (WireCodec) TokenSetFromProto(t *connectorv1.TokenSet) *TokenSet {
	if t == nil {
		return nil
	}
	out := &TokenSet{
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

func (WireCodec) ErrorToProto(e *Error) *connectorv1.ConnectorError {
	out := &connectorv1.ConnectorError{Code: string(e.Code), Message: e.Message}
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			// One value JSON cannot hold (a NaN, a channel) costs only itself:
			// the other details still say what went wrong.
			kept := make(map[string]any, len(e.Details))
			for k, v := range e.Details {
				if _, err := json.Marshal(v); err == nil {
					kept[k] = v
				}
			}
			b, err = json.Marshal(kept)
		}
		if err == nil && len(b) > 2 {
			out.DetailsJson = b
		}
	}
	return out
}

// ErrorFromProto gives an error without a code the general one. A number in the
// details is a float64 when that holds it exactly, and a json.Number otherwise
// (an id above 2^53, say), which encodes back as the digits that came.
func (WireCodec) ErrorFromProto(d *connectorv1.ConnectorError) *Error {
	e := &Error{Code: ErrorCode(d.GetCode()), Message: d.GetMessage()}
	if e.Code == "" {
		e.Code = CodeGeneral
	}
	if len(d.GetDetailsJson()) > 0 {
		e.Details = decodeDetails(d.GetDetailsJson())
	}
	return e
}

// decodeDetails is the JSON object b, or nil when b is not one.
func decodeDetails(b []byte) map[string]any {
	v, err := jsonvalue.Decode(b)
	details, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil
	}
	for k, v := range details {
		details[k] = exactNumbers(v)
	}
	return details
}

// exactNumbers turns each json.Number in v into a float64 when the float64
// encodes back to the same text: the type a plain json.Unmarshal gives, for the
// numbers it does not change.
func exactNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return v
		}
		if b, err := json.Marshal(f); err == nil && string(b) == string(v) {
			return f
		}
		return v
	case map[string]any:
		for k, x := range v {
			v[k] = exactNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = exactNumbers(x)
		}
	}
	return v
}

// AuthorizationRequestToProto leaves scope absent when the caller asked for none,
// so the plugin uses its configured one.
func (WireCodec) AuthorizationRequestToProto(in *connectorv1.Instance, req AuthorizationRequest) *connectorv1.GetAuthorizationUriRequest {
	out := &connectorv1.GetAuthorizationUriRequest{Instance: in, RedirectUri: req.RedirectURI, State: req.State}
	if req.Scope != "" {
		out.Scope = &req.Scope
	}
	return out
}

func (WireCodec) AuthorizationRequestFromProto(req *connectorv1.GetAuthorizationUriRequest) AuthorizationRequest {
	return AuthorizationRequest{
		InstanceID:  req.GetInstance().GetId(),
		RedirectURI: req.GetRedirectUri(),
		State:       req.GetState(),
		Scope:       req.GetScope(),
	}
}

// AuthorizationTemplateToProto is nil for a nil template.
func (WireCodec) AuthorizationTemplateToProto(t *AuthorizationTemplate) *connectorv1.AuthorizationTemplate {
	if t == nil {
		return nil
	}
	return &connectorv1.AuthorizationTemplate{
		Endpoint:               t.Endpoint,
		Params:                 t.Params,
		StateParam:             t.StateParam,
		RedirectUriParam:       t.RedirectURIParam,
		ScopeParam:             t.ScopeParam,
		Scope:                  t.Scope,
		RequiredScopes:         t.RequiredScopes,
		NonceParam:             t.NonceParam,
		Pkce:                   t.PKCE,
		SessionStateKey:        t.Session.State,
		SessionRedirectUriKey:  t.Session.RedirectURI,
		SessionCodeVerifierKey: t.Session.CodeVerifier,
		SessionNonceKey:        t.Session.Nonce,
		SessionFixed:           t.Session.Fixed,
	}
}

// AuthorizationTemplateFromProto is nil when the plugin declared none.
func (WireCodec) AuthorizationTemplateFromProto(t *connectorv1.AuthorizationTemplate) *AuthorizationTemplate {
	if t == nil {
		return nil
	}
	return &AuthorizationTemplate{
		Endpoint:         t.GetEndpoint(),
		Params:           t.GetParams(),
		StateParam:       t.GetStateParam(),
		RedirectURIParam: t.GetRedirectUriParam(),
		ScopeParam:       t.GetScopeParam(),
		Scope:            t.GetScope(),
		RequiredScopes:   t.GetRequiredScopes(),
		NonceParam:       t.GetNonceParam(),
		PKCE:             t.GetPkce(),
		Session: SessionTemplate{
			State:        t.GetSessionStateKey(),
			RedirectURI:  t.GetSessionRedirectUriKey(),
			CodeVerifier: t.GetSessionCodeVerifierKey(),
			Nonce:        t.GetSessionNonceKey(),
			Fixed:        t.GetSessionFixed(),
		},
	}
}
