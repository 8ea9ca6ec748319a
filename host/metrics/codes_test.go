package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// tokenCode is an error code a plugin could send to smuggle a secret onto
// /metrics.
const tokenCode = "ya29_" + secret

// definedCodes reads the error code constants (typed sdk.ErrorCode, with a
// string value) that the sdk, the host, the plugin process and the HTTP API
// declare, from their sources.
func definedCodes(t *testing.T) []sdk.ErrorCode {
	t.Helper()
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var out []sdk.ErrorCode
	for _, dir := range []string{"sdk", "host", "host/process", "host/server"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					if !isErrorCodeType(vs.Type) {
						continue
					}
					for _, v := range vs.Values {
						if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, _ := strconv.Unquote(lit.Value)
							out = append(out, sdk.ErrorCode(s))
						}
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func isErrorCodeType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "ErrorCode"
	case *ast.SelectorExpr:
		return e.Sel.Name == "ErrorCode"
	}
	return false
}

// TestCodesAreTheDefinedOnes: the label vocabulary is exactly the error codes
// the sdk, the host, the plugin process and the HTTP API define: a code added
// to one of them is not counted as general, and nothing else is a label value.
func TestCodesAreTheDefinedOnes(t *testing.T) {
	defined := definedCodes(t)
	if len(defined) < 28 {
		t.Fatalf("found only %d defined codes: %v", len(defined), defined)
	}
	if got := metrics.Codes(); !slices.Equal(got, defined) {
		t.Errorf("metrics.Codes() = %v\nthe sources define %v", got, defined)
	}
	for _, c := range defined {
		if got := metrics.CodeLabel(c); got != string(c) {
			t.Errorf("CodeLabel(%q) = %q", c, got)
		}
	}
}

// TestCodeLabelRules: a code idplug defines is its own label; anything else a
// plugin sends is general.
func TestCodeLabelRules(t *testing.T) {
	cases := []struct {
		name string
		code sdk.ErrorCode
		want string
	}{
		{"a connector code", sdk.CodeProviderTimeout, "provider_timeout"},
		{"a code the host adds", host.CodePluginOverloaded, "plugin_overloaded"},
		{"general stays general", sdk.CodeGeneral, "general"},
		{"hostile: a made-up code", "made_up", "general"},
		{"hostile: ok, which would pass a failure for a success", "ok", "general"},
		{"hostile: an empty code", "", "general"},
		{"hostile: a defined code in capitals", "PROVIDER_TIMEOUT", "general"},
		{"hostile: a defined code with a space", "provider_timeout ", "general"},
		{"hostile: a defined code with a newline", "provider_timeout\n", "general"},
		{"hostile: a code that looks like a token", tokenCode, "general"},
		{"hostile: a label injection", `general",plugin="other`, "general"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := metrics.CodeLabel(c.code); got != c.want {
				t.Errorf("CodeLabel(%q) = %q, want %q", c.code, got, c.want)
			}
		})
	}
}

// TestHostileCodeFlood: a plugin answering 10,000 calls with 10,000 codes of
// its own, one of them a token, makes one series (general), counted 10,000
// times; none of its codes reaches /metrics.
func TestHostileCodeFlood(t *testing.T) {
	m := metrics.New()
	const n = 10000
	for i := range n {
		code := sdk.ErrorCode(fmt.Sprintf("made_up_%d", i))
		if i == n/2 {
			code = tokenCode
		}
		m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "evil", RPC: "UserInfo", Duration: time.Millisecond,
			Err: &sdk.Error{Code: code, Message: "x"}})
	}
	e := scrape(t, m)
	if got := e.count("idplug_connector_calls_total"); got != 1 {
		t.Errorf("%d calls_total series after %d made-up codes, want 1", got, n)
	}
	if v, _ := e.value("idplug_connector_calls_total", l("connector", "acme", "plugin", "evil", "rpc", "UserInfo", "code", "general")); v != n {
		t.Errorf("calls_total{code=general} = %v, want %d", v, n)
	}
	for _, leak := range []string{"made_up", secret, strings.ToLower(secret)} {
		if strings.Contains(e.raw, leak) {
			t.Errorf("/metrics shows %q:\n%s", leak, grepLines(e.raw, leak))
		}
	}
}

// TestHostileVaultResults: the vault metric's result is ok or a code idplug
// defines; a code that came from a plugin (a refresh's error) and is not one
// counts as general.
func TestHostileVaultResults(t *testing.T) {
	m := metrics.New()
	for i := range 1000 {
		m.VaultOp("refresh", fmt.Sprintf("made_up_%d", i))
	}
	m.VaultOp("refresh", tokenCode)
	m.VaultOp("refresh", "ok")
	m.VaultOp("refresh", "not_found")
	m.VaultOp("refresh", string(sdk.CodeSocialAccessTokenInvalid))
	e := scrape(t, m)
	want := map[string]float64{"general": 1001, "ok": 1, "not_found": 1, "social_invalid_access_token": 1}
	for result, n := range want {
		if v, _ := e.value("idplug_vault_operations_total", l("op", "refresh", "result", result)); v != n {
			t.Errorf("vault_operations_total{result=%q} = %v, want %v", result, v, n)
		}
	}
	if got := e.count("idplug_vault_operations_total"); got != len(want) {
		t.Errorf("%d vault_operations_total series, want %d: %v", got, len(want), e.values["idplug_vault_operations_total"])
	}
	if strings.Contains(e.raw, "made_up") || strings.Contains(e.raw, secret) {
		t.Errorf("a plugin's code reached /metrics:\n%s", grepLines(e.raw, "idplug_vault"))
	}
}

// TestHostilePluginCodesThroughTheHost: a real plugin answers calls with codes
// of its own choosing; those of the vocabulary's shape reach the caller as
// sent, others as general (host/process), and /metrics counts them all as
// general, beside the defined code it also sent.
func TestHostilePluginCodesThroughTheHost(t *testing.T) {
	m := metrics.New()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./host/testdata/hostile"), "hostile")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := host.Open(ctx, host.Options{PluginDir: dir, OnCall: m.ObserveCall, OnRestart: m.PluginRestarted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "evil", Plugin: "hostile", Config: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	sent := []string{tokenCode, "ok", "", string(sdk.CodeProviderTimeout)}
	for i := range 200 {
		sent = append(sent, fmt.Sprintf("made_up_%d", i))
	}
	for _, code := range sent {
		_, err := h.UserInfo(ctx, "evil", sdk.Session{}, map[string]string{"errorCode": code})
		var e *sdk.Error
		want := sdk.ErrorCode(code)
		if code == tokenCode { // uppercase and "-": no code of the vocabulary's shape
			want = sdk.CodeGeneral
		}
		if !errors.As(err, &e) || (code != "" && e.Code != want) {
			t.Fatalf("errorCode %q: the call returned %v, want %s", code, err, want)
		}
	}
	e := scrape(t, m)
	call := func(code string) map[string]string {
		return l("connector", "evil", "plugin", "hostile", "rpc", "UserInfo", "code", code)
	}
	if v, _ := e.value("idplug_connector_calls_total", call("general")); v != float64(len(sent)-1) {
		t.Errorf("calls_total{code=general} = %v, want %d", v, len(sent)-1)
	}
	if v, _ := e.value("idplug_connector_calls_total", call("provider_timeout")); v != 1 {
		t.Errorf("calls_total{code=provider_timeout} = %v, want 1", v)
	}
	if got := e.count("idplug_connector_calls_total"); got != 2 {
		t.Errorf("%d calls_total series, want 2: %v", got, e.values["idplug_connector_calls_total"])
	}
	for _, leak := range []string{"made_up", secret, strings.ToLower(secret)} {
		if strings.Contains(e.raw, leak) {
			t.Errorf("/metrics shows %q:\n%s", leak, grepLines(e.raw, leak))
		}
	}
}
