package apikey

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestScopes(t *testing.T) {
	k := Key{Secret: "s", Scopes: []Scope{TokensReadRefresh}, Connectors: []string{"acme"}}
	if !k.Has(TokensRead) || !k.Has(TokensReadRefresh) || k.Has(TokensDelete) || k.Has(SignIn) || k.Has(Admin) {
		t.Errorf("tokens:read_refresh key: %v", k)
	}
	if !k.OnConnector("acme") || k.OnConnector("other") {
		t.Errorf("connectors: %v", k)
	}
	read := Key{Scopes: []Scope{TokensRead}}
	if read.Has(TokensReadRefresh) {
		t.Error("tokens:read must not give the refresh token")
	}
	if !read.OnConnector("anything") {
		t.Error("no connectors means every connector")
	}
	all := Unscoped("s")
	for _, s := range Scopes() {
		if !all.Has(s) {
			t.Errorf("a plain key lacks %s", s)
		}
	}
	if !Known("admin") || Known("tokens") || Known("") {
		t.Error("Known")
	}
}

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	const secret = "very-secret-key-0123456789-0123456789"
	for _, k := range []Key{Unscoped(secret), {Secret: secret, Scopes: []Scope{Admin}}} {
		for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
			if strings.Contains(out, secret) {
				t.Errorf("printed the secret: %s", out)
			}
		}
	}
}

// TestKeyNeverEncodesItsSecret: String and GoString hide the secret from fmt,
// but encoding/json (and so slog's JSON handler, an API answer or a debug dump
// of a config) wrote the exported Secret field as it is. A key is encoded and
// logged as String describes it, alone, by pointer or in a struct.
func TestKeyNeverEncodesItsSecret(t *testing.T) {
	const secret = "very-secret-key-0123456789-0123456789"
	k := Key{Secret: secret, Scopes: []Scope{Admin}, Connectors: []string{"acme"}}
	b, err := json.Marshal(struct {
		Key  Key
		Ptr  *Key
		Keys []Key
	}{k, &k, []Key{k, Unscoped(secret)}})
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&js, nil), slog.NewTextHandler(&text, nil)} {
		slog.New(h).Info("loaded", "key", k, "ptr", &k, slog.Group("g", "key", k))
	}
	// A handler that reads the value itself, not through fmt or encoding/json,
	// gets the description, not the Key and its fields.
	var logged slog.Value
	slog.New(handlerFunc(func(r slog.Record) { r.Attrs(func(a slog.Attr) bool { logged = a.Value.Resolve(); return false }) })).Info("loaded", "key", k)
	if logged.Kind() != slog.KindString {
		t.Errorf("a handler got the key as %s %#v, not as its description", logged.Kind(), logged.Any())
	}
	for what, out := range map[string]string{"json.Marshal": string(b), "slog JSON": js.String(), "slog text": text.String(), "a handler": logged.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("%s printed the secret: %s", what, out)
		}
		if !strings.Contains(out, "api key (admin on connectors acme)") {
			t.Errorf("%s does not describe the key: %s", what, out)
		}
	}
}

// handlerFunc is a slog handler that hands each record to a function.
type handlerFunc func(slog.Record)

func (h handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (h handlerFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h handlerFunc) WithGroup(string) slog.Handler                 { return h }
