package process_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/internal/gobuild"
	"github.com/idplug/idplug/sdk"
)

//go:embed testdata/roundtrip/fixture.json
var fixtureJSON []byte

type fixture struct {
	Metadata sdk.Metadata `json:"metadata"`
	UserInfo sdk.UserInfo `json:"userInfo"`
	Tokens   sdk.TokenSet `json:"tokens"`
	Error    struct {
		Code    sdk.ErrorCode  `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
	FieldErrors []sdk.FieldError `json:"fieldErrors"`
}

// TestConversionRoundTrip sends every field of the SDK's types across the wire and
// back: the plugin (testdata/roundtrip) answers with fixture.json, converted to
// protobuf by the SDK and back by the host, both through sdk.Wire (sdk/wire.go), and echoes
// every field of the host's requests. A field added to the SDK's types fails
// TestFixtureSetsEveryField until the fixture sets it, and this test until both
// conversions carry it.
func TestConversionRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	var fx fixture
	if err := json.Unmarshal(fixtureJSON, &fx); err != nil {
		t.Fatal(err)
	}
	p := startRoundTrip(t)
	ctx := t.Context()

	t.Run("metadata", func(t *testing.T) {
		sameJSON(t, "metadata", p.Metadata(), fx.Metadata)
	})

	config := []byte(`{"clientId":"ünï","nested":{"a":[1,2]}}`)
	inst := process.Instance{ID: "rt-1", Version: "v1", Config: config}
	t.Run("config errors", func(t *testing.T) {
		fields, err := p.ValidateConfig(ctx, process.Instance{ID: "rt-bad", Version: "v1", Config: []byte(`{"bad":true}`)})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fields, fx.FieldErrors) {
			t.Errorf("field errors = %+v, want %+v", fields, fx.FieldErrors)
		}
		if fields, err := p.ValidateConfig(ctx, inst); err != nil || fields != nil {
			t.Errorf("a valid config: %v %v", fields, err)
		}
	})

	t.Run("authorization", func(t *testing.T) {
		state, redirect := "st-\x01-ünï", "https://app.example/cb?x=1&y=ü"
		scope := "openid ünï"
		auth, err := p.AuthorizationURI(ctx, inst, sdk.AuthorizationRequest{RedirectURI: redirect, State: state, Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		want := sdk.Session{"instanceId": "rt-1", "redirectUri": redirect, "state": state, "scope": scope, "config": string(config)}
		if auth.RedirectTo != "https://roundtrip.example/authorize?state="+state || !reflect.DeepEqual(auth.Session, want) {
			t.Errorf("authorization = %+v, want session %v", auth, want)
		}
	})

	t.Run("user info", func(t *testing.T) {
		session := sdk.Session{"state": "s", "": "empty key", "ünï": "\x00"}
		callback := map[string]string{"code": "c", "state": "s", "iss": ""}
		res, err := p.UserInfo(ctx, inst, session, callback)
		if err != nil {
			t.Fatal(err)
		}
		got := res.UserInfo
		got.RawData = nil
		if !reflect.DeepEqual(got, fx.UserInfo) {
			t.Errorf("user info = %s, want %s", jsonOf(t, got), jsonOf(t, fx.UserInfo))
		}
		sameJSON(t, "rawData", res.UserInfo.RawData, map[string]any{
			"instanceId": "rt-1", "session": session, "callback": callback, "config": string(config),
		})
		sameTokens(t, res.Tokens, fx.Tokens)
	})

	t.Run("error", func(t *testing.T) {
		_, err := p.UserInfo(ctx, inst, sdk.Session{}, map[string]string{"fail": "1"})
		e, ok := err.(*sdk.Error)
		if !ok {
			t.Fatalf("error = %T %v, want *sdk.Error", err, err)
		}
		if e.Code != fx.Error.Code || e.Message != fx.Error.Message {
			t.Errorf("error = %s %q, want %s %q", e.Code, e.Message, fx.Error.Code, fx.Error.Message)
		}
		sameJSON(t, "details", e.Details, fx.Error.Details)
	})

	t.Run("refresh", func(t *testing.T) {
		tokens, err := p.RefreshTokens(ctx, inst, "refresh-ünï")
		if err != nil {
			t.Fatal(err)
		}
		want := fx.Tokens
		want.RefreshToken = "refresh-ünï"
		sameTokens(t, tokens, want)
	})
}

// TestFixtureSetsEveryField keeps the fixture complete: every field of every SDK
// type that crosses the wire is set somewhere in it.
func TestFixtureSetsEveryField(t *testing.T) {
	var fx fixture
	if err := json.Unmarshal(fixtureJSON, &fx); err != nil {
		t.Fatal(err)
	}
	allSet(t, "Metadata", reflect.ValueOf(fx.Metadata))
	allSet(t, "UserInfo", reflect.ValueOf(fx.UserInfo), "RawData") // rawData is the echo
	allSet(t, "TokenSet", reflect.ValueOf(fx.Tokens))
	for _, v := range []any{sdk.FormItem{}, sdk.SelectItem{}, sdk.ShowCondition{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			if !setInSome(fx.Metadata.FormItems, typ, i) {
				t.Errorf("no %s in the fixture sets %s", typ.Name(), typ.Field(i).Name)
			}
		}
	}
	if fx.Error.Code == "" || fx.Error.Message == "" || len(fx.Error.Details) == 0 || len(fx.FieldErrors) == 0 {
		t.Errorf("the fixture's error is incomplete: %+v %+v", fx.Error, fx.FieldErrors)
	}
}

func allSet(t *testing.T, name string, v reflect.Value, except ...string) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !v.Field(i).IsZero() || contains(except, f.Name) {
			continue
		}
		if f.Type.Kind() == reflect.Bool || f.Type.Kind() == reflect.Pointer {
			// false and "" are values too: a bool or a pointer must still be set.
			t.Errorf("the fixture leaves %s.%s unset", name, f.Name)
			continue
		}
		t.Errorf("the fixture leaves %s.%s empty", name, f.Name)
	}
}

// setInSome says whether field i of typ is set in some form item, select item or
// show condition of items.
func setInSome(items []sdk.FormItem, typ reflect.Type, i int) bool {
	for _, it := range items {
		var vals []reflect.Value
		switch typ {
		case reflect.TypeOf(sdk.FormItem{}):
			vals = append(vals, reflect.ValueOf(it))
		case reflect.TypeOf(sdk.SelectItem{}):
			for _, s := range it.SelectItems {
				vals = append(vals, reflect.ValueOf(s))
			}
		case reflect.TypeOf(sdk.ShowCondition{}):
			for _, c := range it.ShowConditions {
				vals = append(vals, reflect.ValueOf(c))
			}
		}
		for _, v := range vals {
			if !v.Field(i).IsZero() {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func startRoundTrip(t *testing.T) *process.Process {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idplug-connector-roundtrip")
	if err := gobuild.Build(context.Background(), ".", "./testdata/roundtrip", bin); err != nil {
		t.Fatal(err)
	}
	sockets, err := os.MkdirTemp("", "rt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sockets) })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := process.Start(ctx, "roundtrip", bin, nil, process.Options{SocketDir: sockets, StartTimeout: time.Minute, CallTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// sameJSON compares got and want as JSON documents.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(jsonOf(t, got), &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(jsonOf(t, want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s\nwant %s", what, jsonOf(t, got), jsonOf(t, want))
	}
}

func sameTokens(t *testing.T, got *sdk.TokenSet, want sdk.TokenSet) {
	t.Helper()
	if got == nil {
		t.Fatal("no tokens")
	}
	g := *got
	if !g.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("expiresAt = %v, want %v", g.ExpiresAt, want.ExpiresAt)
	}
	g.ExpiresAt, want.ExpiresAt = time.Time{}, time.Time{}
	if g != want {
		t.Errorf("tokens = %+v, want %+v", g, want)
	}
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
