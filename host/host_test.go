package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// open starts a host on dir and closes it when the test ends.
func open(t *testing.T, dir string, opts host.Options) *host.Host {
	t.Helper()
	opts.PluginDir = dir
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
	}
	h, err := host.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func exampleConfig(greeting string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{
		"authorizationEndpoint": "https://id.example.test/authorize?prompt=login",
		"clientId":              "client-1",
		"greeting":              greeting,
	})
	return b
}

func codeOf(err error) sdk.ErrorCode {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestHostServesEveryRPCForSeveralInstances(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, host.Options{})

	plugins := h.Plugins()
	if len(plugins) != 2 || plugins[0].Proc.Metadata().ID != "example" || plugins[1].Proc.Metadata().ID != "misbehave" {
		t.Fatalf("plugins = %+v", plugins)
	}
	meta := plugins[0].Proc.Metadata()
	if meta.Name["en"] != "Example ID" || !meta.IsStandard || meta.Platform != sdk.PlatformUniversal || len(meta.FormItems) != 3 {
		t.Fatalf("example metadata = %+v", meta)
	}
	if got := meta.FormItems[2].DefaultValue; got == nil || string(got.(json.RawMessage)) != `"Hello"` {
		t.Fatalf("default value = %v", got)
	}

	ctx := context.Background()
	err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "hello", Plugin: "example", Config: exampleConfig("Hello")},
		{ID: "bonjour", Plugin: "example", Name: sdk.I18n{"en": "Example (FR)"}, Logo: "https://cdn.example.test/fr.png", Config: exampleConfig("Bonjour")},
		{ID: "calm", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"ok"}`)},
	})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	list := h.Instances()
	if len(list) != 3 || list[1].Name["en"] != "Example (FR)" || list[0].Name["en"] != "Example ID" || list[1].Target != "bonjour" {
		t.Fatalf("connectors = %+v", list)
	}
	// The operator's logo is told from the plugin's (the page shows only a
	// plugin's data: logos).
	if !list[1].OperatorLogo || list[1].Logo != "https://cdn.example.test/fr.png" || list[0].OperatorLogo || !strings.HasPrefix(list[0].Logo, "data:image/") {
		t.Fatalf("logos: %q by the operator %v, %q by the operator %v", list[1].Logo, list[1].OperatorLogo, list[0].Logo, list[0].OperatorLogo)
	}

	for _, tc := range []struct{ id, greeting string }{{"hello", "Hello"}, {"bonjour", "Bonjour"}} {
		auth, err := h.AuthorizationURI(ctx, tc.id, "https://app.test/callback/"+tc.id, "state-"+tc.id)
		if err != nil {
			t.Fatalf("%s: AuthorizationURI: %v", tc.id, err)
		}
		if !strings.HasPrefix(auth.RedirectTo, "https://id.example.test/authorize?") ||
			!strings.Contains(auth.RedirectTo, "prompt=login") || !strings.Contains(auth.RedirectTo, "state=state-"+tc.id) {
			t.Fatalf("%s: redirectTo = %s", tc.id, auth.RedirectTo)
		}
		res, err := h.UserInfo(ctx, tc.id, auth.Session, map[string]string{"code": "ada", "state": "state-" + tc.id})
		if err != nil {
			t.Fatalf("%s: UserInfo: %v", tc.id, err)
		}
		if res.UserInfo.ID != "ada" || *res.UserInfo.Name != tc.greeting+", ada" || string(res.UserInfo.RawData) != `{"sub":"ada"}` {
			t.Fatalf("%s: user info = %+v", tc.id, res.UserInfo)
		}
	}

	// A connector error crosses the wire with its code and details.
	auth, _ := h.AuthorizationURI(ctx, "hello", "https://app.test/cb", "s1")
	_, err = h.UserInfo(ctx, "hello", auth.Session, map[string]string{"error": "access_denied", "state": "s1"})
	var ce *sdk.Error
	if !errors.As(err, &ce) || ce.Code != sdk.CodeAuthorizationFailed || ce.Details["error"] != "access_denied" {
		t.Fatalf("callback error = %#v", err)
	}
	if _, err := h.UserInfo(ctx, "hello", auth.Session, map[string]string{"code": "x", "state": "forged"}); codeOf(err) != sdk.CodeInvalidRequestParameters {
		t.Fatalf("state mismatch error = %v", err)
	}
	if _, err := h.RefreshTokens(ctx, "hello", "rt"); codeOf(err) != sdk.CodeNotImplemented {
		t.Fatalf("refresh error = %v", err)
	}
	if _, err := h.AuthorizationURI(ctx, "nope", "https://app.test/cb", "s"); codeOf(err) != host.CodeInstanceNotFound {
		t.Fatalf("unknown connector error = %v", err)
	}
}

func TestConfigureListsEveryProblem(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	// A plugin file the folder's checks refuse: the connector that names it
	// is told why.
	loose := plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "loose")
	if err := os.Chmod(loose, 0o775); err != nil {
		t.Fatal(err)
	}
	h := open(t, dir, host.Options{})
	err := h.Configure(context.Background(), []host.InstanceConfig{
		{ID: "lax", Plugin: "loose"},
		{ID: "good", Plugin: "example", Config: exampleConfig("Hi")},
		{ID: "bad", Plugin: "example", Config: json.RawMessage(`{"authorizationEndpoint":"not a url"}`)},
		{ID: "Bad ID", Plugin: "example", Config: exampleConfig("Hi")},
		{ID: "good", Plugin: "example", Target: "other", Config: exampleConfig("Hi")},
		{ID: "ghost", Plugin: "missing"},
	})
	var ve *host.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"connector bad: config.authorizationEndpoint: must be an absolute URL",
		"connector bad: config.clientId: is required",
		"connector Bad ID: id: must match",
		"connector good: id: is used by another connector",
		`connector ghost: plugin: no plugin with id "missing" runs (plugins: example)`,
		"connector lax: plugin: the file idplug-connector-loose was refused: writable by its group",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if len(h.Instances()) != 0 {
		t.Fatal("a refused configuration must change nothing")
	}
}
