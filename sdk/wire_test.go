package sdk

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
)

// everyField fails when a field of v (struct fields, recursively, and the first
// element of slices and maps) is the zero value, so a fixture must set each field a
// type gains: the round trips below then fail until both directions carry it.
func everyField(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			t.Errorf("%s is not set in the fixture", path)
			return
		}
		everyField(t, path, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if v.Interface().(time.Time).IsZero() {
				t.Errorf("%s is not set in the fixture", path)
			}
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Name == "Cause" { // kept in the plugin; never crosses the wire
				continue
			}
			everyField(t, path+"."+f.Name, v.Field(i))
		}
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			t.Errorf("%s is empty in the fixture", path)
			return
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
			everyField(t, path+"[0]", v.Index(0))
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is not set in the fixture", path)
		}
	}
}

func fixtureMetadata() Metadata {
	return Metadata{
		ID: "rt", Target: "rt-target", Platform: PlatformWeb,
		Name: I18n{"en": "Round trip", "ja": "往復"}, Description: I18n{"en": "d"},
		Logo: "data:logo", LogoDark: "data:dark", Readme: "# rt", IsStandard: true,
		ConfigTemplate: `{"a":1}`, EgressHosts: []string{"api.rt.test", "rt.test:8443"},
		FormItems: []FormItem{{
			Key: "k", Label: "K", Type: FormMultiSelect, Required: true, Placeholder: "p",
			DefaultValue: json.RawMessage(`["x"]`), Description: "desc", Tooltip: "tip", Confidential: true,
			SelectItems:    []SelectItem{{Value: "x", Title: "X"}},
			ShowConditions: []ShowCondition{{TargetKey: "other", ExpectValue: json.RawMessage(`true`)}},
		}},
	}
}

func TestWireRoundTrip(t *testing.T) {
	meta := fixtureMetadata()
	user := UserInfo{ID: "u1", Name: String("Ünï"), Avatar: String("https://a.test/a.png"),
		Email: String("u@a.test"), Phone: String("+1"), RawData: json.RawMessage(`{"id":"u1","n":[1,2]}`)}
	tokens := &TokenSet{AccessToken: "at", RefreshToken: "rt", IDToken: "it", TokenType: "Bearer",
		Scope: "openid", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)}
	cerr := &Error{Code: CodeAuthorizationFailed, Message: "no", Details: map[string]any{"error": "access_denied", "status": 400.0}}
	req := AuthorizationRequest{InstanceID: "i1", RedirectURI: "https://a.test/cb", State: "s", Scope: "openid email"}
	tmpl := fixtureTemplate()
	for name, v := range map[string]any{"metadata": meta, "userInfo": user, "tokens": tokens, "error": cerr, "request": req, "template": tmpl} {
		everyField(t, name, reflect.ValueOf(v))
	}

	wm, err := Wire.MetadataToProto(meta)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "metadata", Wire.MetadataFromProto(wm), meta)
	sameJSON(t, "userInfo", Wire.UserInfoFromProto(Wire.UserInfoToProto(user)), user)
	if got := Wire.TokenSetFromProto(Wire.TokenSetToProto(tokens)); !reflect.DeepEqual(got, tokens) {
		t.Errorf("tokens = %+v, want %+v", got, tokens)
	}
	if got := Wire.ErrorFromProto(Wire.ErrorToProto(cerr)); !reflect.DeepEqual(got, cerr) {
		t.Errorf("error = %+v, want %+v", got, cerr)
	}
	if got := Wire.AuthorizationRequestFromProto(Wire.AuthorizationRequestToProto(&connectorv1.Instance{Id: "i1"}, req)); got != req {
		t.Errorf("request = %+v, want %+v", got, req)
	}
	if got := Wire.AuthorizationTemplateFromProto(Wire.AuthorizationTemplateToProto(tmpl)); !reflect.DeepEqual(got, tmpl) {
		t.Errorf("template = %+v, want %+v", got, tmpl)
	}
}

func fixtureTemplate() *AuthorizationTemplate {
	return &AuthorizationTemplate{
		Endpoint: "https://op.test/authorize?tenant=a", Params: map[string]string{"client_id": "c", "response_type": "code"},
		StateParam: "state", RedirectURIParam: "redirect_uri", ScopeParam: "scope", Scope: "openid email",
		RequiredScopes: []string{"openid"}, NonceParam: "nonce", PKCE: true,
		Session: SessionTemplate{State: "state", RedirectURI: "redirectUri", CodeVerifier: "codeVerifier", Nonce: "nonce",
			Fixed: map[string]string{"issuer": "https://op.test"}},
	}
}

// TestWireAbsentValues: what is absent stays absent, and an empty optional field
// stays empty rather than absent (a connector that says "no email" is not one
// that says nothing).
func TestWireAbsentValues(t *testing.T) {
	if Wire.TokenSetToProto(nil) != nil || Wire.TokenSetFromProto(nil) != nil {
		t.Error("a missing token set must stay missing")
	}
	if w := Wire.TokenSetToProto(&TokenSet{AccessToken: "a"}); w.ExpiresAt != nil {
		t.Error("an unknown expiry must stay absent on the wire")
	}
	u := Wire.UserInfoFromProto(Wire.UserInfoToProto(UserInfo{ID: "u", Email: String("")}))
	if u.Name != nil || u.Email == nil || *u.Email != "" {
		t.Errorf("user = %+v: absent name and empty email must stay apart", u)
	}
	if req := Wire.AuthorizationRequestToProto(nil, AuthorizationRequest{RedirectURI: "https://a.test/cb", State: "s"}); req.Scope != nil {
		t.Errorf("scope = %q, want absent when none was asked (the plugin then uses its configured scope)", req.GetScope())
	}
	if Wire.AuthorizationTemplateToProto(nil) != nil || Wire.AuthorizationTemplateFromProto(nil) != nil {
		t.Error("a connector without a template must stay without one")
	}
	if e := Wire.ErrorFromProto(&connectorv1.ConnectorError{Message: "m"}); e.Code != CodeGeneral {
		t.Errorf("code = %q, want %q for an error without one", e.Code, CodeGeneral)
	}
}

// Details cross the wire as JSON. A whole number above 2^53 (a provider's
// account id, say) keeps its digits, which a float64 would round; a number a
// float64 holds exactly stays one, as plain encoding/json gives it.
func TestWireErrorDetailsKeepEveryDigit(t *testing.T) {
	e := Errorf(CodeInvalidResponse, "bad").WithDetail("accountId", int64(9007199254740993)).
		WithDetail("ids", []any{uint64(18446744073709551615), map[string]any{"n": int64(-9007199254740995)}}).
		WithDetail("status", 400).WithDetail("ratio", 0.1)
	got := Wire.ErrorFromProto(Wire.ErrorToProto(e))
	b, err := json.Marshal(got.Details)
	if want := `{"accountId":9007199254740993,"ids":[18446744073709551615,{"n":-9007199254740995}],"ratio":0.1,"status":400}`; err != nil || string(b) != want {
		t.Fatalf("details after the wire: %s, %v\nwant %s", b, err, want)
	}
	if got.Details["status"] != 400.0 || got.Details["ratio"] != 0.1 {
		t.Errorf("status %#v, ratio %#v: want float64s, as json.Unmarshal gives", got.Details["status"], got.Details["ratio"])
	}
	// What is not one JSON object is still left out.
	for _, bad := range []string{`{"a":1} x`, `{"a":1}{}`, `[1]`, `{"a":`} {
		if d := Wire.ErrorFromProto(&connectorv1.ConnectorError{Code: "x", DetailsJson: []byte(bad)}).Details; d != nil {
			t.Errorf("%s: details = %v, want none", bad, d)
		}
	}
}

// TestWireEnumTables: every value of the wire's enums but UNSPECIFIED has one SDK
// value, and the tables are the same both ways.
func TestWireEnumTables(t *testing.T) {
	for v := range connectorv1.Platform_name {
		p := connectorv1.Platform(v)
		if p == connectorv1.Platform_PLATFORM_UNSPECIFIED {
			continue
		}
		s, ok := platforms.fromWire[p]
		if !ok || platforms.toWire[s] != p {
			t.Errorf("platform %s does not round-trip", p)
		}
	}
	for v := range connectorv1.FormItemType_name {
		f := connectorv1.FormItemType(v)
		if f == connectorv1.FormItemType_FORM_ITEM_TYPE_UNSPECIFIED {
			continue
		}
		s, ok := formItemTypes.fromWire[f]
		if !ok || formItemTypes.toWire[s] != f {
			t.Errorf("form item type %s does not round-trip", f)
		}
	}
	if len(platforms.toWire) != len(platforms.fromWire) || len(formItemTypes.toWire) != len(formItemTypes.fromWire) {
		t.Error("an enum table maps two values to one")
	}
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// A detail JSON cannot hold (a NaN from a provider's number, say) is left out
// alone: the other details still cross, where all of them had been dropped.
func TestWireErrorKeepsTheDetailsJSONCanHold(t *testing.T) {
	e := Errorf(CodeInvalidResponse, "the provider answered garbage").
		WithDetail("status", 502).WithDetail("ratio", math.NaN()).WithDetail("error", "server_error")
	got := Wire.ErrorFromProto(Wire.ErrorToProto(e))
	want := map[string]any{"status": float64(502), "error": "server_error"}
	if !reflect.DeepEqual(got.Details, want) {
		t.Errorf("details = %#v, want %#v", got.Details, want)
	}
	if d := Wire.ErrorToProto(Errorf(CodeGeneral, "x").WithDetail("ratio", math.Inf(1))).GetDetailsJson(); d != nil {
		t.Errorf("details of nothing JSON can hold = %s, want none", d)
	}
}
