package host_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/logtest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// badOutputPkg is a plugin whose metadata, log lines and answers carry what a
// hostile plugin would send for the host to pass on (see its doc comment).
const badOutputPkg = "./host/testdata/badoutput"

// installBadOutput installs badOutputPkg in a new plugin folder under each of
// names (which choose its metadata) and returns the folder.
func installBadOutput(t *testing.T, names ...string) string {
	t.Helper()
	dir := plugintest.Folder(t)
	bin := plugintest.Binary(t, badOutputPkg)
	for _, name := range names {
		plugintest.Install(t, dir, bin, name)
	}
	return dir
}

// refusal is the reason the host refused the plugin file idplug-connector-name,
// or "" when it did not.
func refusal(h *host.Host, name string) string {
	for _, e := range h.Refused() {
		if e.File == "idplug-connector-"+name {
			return e.Reason
		}
	}
	return ""
}

// A plugin's log line (here through the SDK's own logger, as a connector
// logging a provider's error text would) cannot forge a line of the host's log:
// with log_format text (the default), hclog writes a line's message as it is,
// so a line break in it would start a line that reads as idplug's own.
func TestPluginLogMessageCannotForgeHostLines(t *testing.T) {
	dir := installBadOutput(t, "badoutput")
	logs := logtest.New()
	log := hclog.New(&hclog.LoggerOptions{Name: "idplug", Level: hclog.Info, Output: logs})
	h := open(t, dir, host.Options{Logger: log})
	forged := "2030-01-01T00:00:00.000Z [ERROR] idplug.http: forged by the plugin"
	cfg, _ := json.Marshal(map[string]string{"log": "provider said no\n" + forged + "\x1b[2J"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "bad", Plugin: "badoutput", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AuthorizationURI(ctx, "bad", "https://app.test/cb", "st"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, `provider said no\n`+forged+`\x1b[2J`)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.HasPrefix(line, forged) {
			t.Fatalf("the plugin forged a line of the host's log:\n%s", logs.String())
		}
	}
	if strings.Contains(logs.String(), "\x1b") {
		t.Errorf("the host's log carries the plugin's escape sequence: %q", logs.String())
	}
}

// A plugin's metadata is held for the plugin's life and served to anyone: the
// name and logo of each configured instance are on the public home page (GET /,
// no key), the readme on /v1. A plugin whose metadata goes over a bound (here a
// 3 MiB logo and a 512 KiB readme), or declares an egress host that is no host
// name, is refused, and the reason says which field and the bound.
func TestMetadataIsBounded(t *testing.T) {
	dir := installBadOutput(t, "badoutput", "badoutput-biglogo", "badoutput-badhost")
	h := open(t, dir, host.Options{})
	for name, want := range map[string]string{
		"badoutput-biglogo": "metadata logo has 3145750 bytes; at most 65536",
		"badoutput-badhost": `metadata declares an egress host that is not a host or host:port: "evil\x1b[31m.test"`,
	} {
		if got := refusal(h, name); !strings.Contains(got, want) {
			t.Errorf("%s: refused for %q, want %q", name, got, want)
		}
	}
	if ids := h.PluginIDs(); len(ids) != 1 || ids[0] != "badoutput" {
		t.Errorf("the host serves %q; want only the plugin whose metadata is within bounds", ids)
	}
}

// The metadata id is what operators name in idplug.yaml, the plugin label of
// every metric and what `idplug plugins` prints: a plugin whose id does not
// match wire.PluginNameRE (here with terminal escapes) is refused, and the
// reason quotes the id escaped.
func TestMetadataIDMustMatchThePattern(t *testing.T) {
	dir := installBadOutput(t, "badoutput", "badoutput-badid")
	h := open(t, dir, host.Options{})
	for _, id := range h.PluginIDs() {
		if id != "badoutput" {
			t.Errorf("the host serves a plugin whose metadata id is %q", id)
		}
	}
	want := `metadata id "Evil\x1b]0;owned-title\a\x1b[2J\x1b[Hid" does not match ^[a-z0-9][a-z0-9_-]*$`
	if got := refusal(h, "badoutput-badid"); !strings.Contains(got, want) {
		t.Errorf("refused for %q, want %q", got, want)
	}
}

// A plugin's error code goes to API answers (and their HTTP status), error
// pages and the code label of the metrics. Codes only the host or its HTTP
// layer give (its plugin process's, its store's, its API keys') mean something
// else to a client and an operator: a plugin's error with one is general.
// (host/process's TestHostCodesAreTheAPIsLessTheSDKs checks the whole list.)
func TestPluginCannotClaimTheHostsCodes(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, hostilePkg), "hostile")
	h := open(t, dir, host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "evil", Plugin: "hostile", Config: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	for _, code := range []sdk.ErrorCode{host.CodePluginUnavailable, host.CodePluginTimeout, host.CodePluginOverloaded,
		host.CodeInstanceNotFound, host.CodeMappingFailed, "store_unavailable", "unauthorized", "forbidden",
		"too_many_attempts", "session_used", "cross_origin_request", "not_found", "request_too_large"} {
		_, err := h.UserInfo(ctx, "evil", sdk.Session{}, map[string]string{"errorCode": string(code)})
		if got := codeOf(err); got != sdk.CodeGeneral {
			t.Errorf("a plugin's error with the host's code %s passed on as %q (%v)", code, got, err)
		}
	}
	// The connector codes stay the plugin's, idplug's own included.
	for _, code := range []sdk.ErrorCode{sdk.CodeSocialAuthCodeInvalid, sdk.CodeProviderUnavailable, "template_not_found"} {
		_, err := h.UserInfo(ctx, "evil", sdk.Session{}, map[string]string{"errorCode": string(code)})
		if got := codeOf(err); got != code {
			t.Errorf("a plugin's error with code %s passed on as %q (%v)", code, got, err)
		}
	}
}

// rawData is bytes on the wire, an expiry any timestamp: a profile whose
// rawData is not JSON, or tokens that expire after the year 9999, would make
// every JSON answer and record made of them fail to encode (the /v1 user-info
// answer became 200 with an empty body). The host refuses them as the
// plugin's invalid_response.
func TestProfileTheHostCannotEncodeIsInvalid(t *testing.T) {
	dir := installBadOutput(t, "badoutput")
	h := open(t, dir, host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfgs := []host.InstanceConfig{
		{ID: "sound", Plugin: "badoutput", Target: "sound", Config: json.RawMessage(`{"profile":{"id":"u-1"},"raw":"{\"a\":1}"}`)},
		{ID: "raw", Plugin: "badoutput", Target: "raw", Config: json.RawMessage(`{"profile":{"id":"u-1"},"raw":"{\"a\":"}`)},
		{ID: "expiry", Plugin: "badoutput", Target: "expiry", Config: json.RawMessage(`{"profile":{"id":"u-1"},"farExpiry":true}`)},
	}
	if err := h.Configure(ctx, cfgs); err != nil {
		t.Fatal(err)
	}
	if res, err := h.UserInfo(ctx, "sound", sdk.Session{}, map[string]string{}); err != nil || string(res.UserInfo.RawData) != `{"a":1}` {
		t.Fatalf("sound profile: %+v, %v", res, err)
	}
	for _, id := range []string{"raw", "expiry"} {
		res, err := h.UserInfo(ctx, id, sdk.Session{}, map[string]string{})
		if got := codeOf(err); got != sdk.CodeInvalidResponse {
			t.Errorf("%s: the host passed on a profile it cannot encode (%+v, %v)", id, res, err)
		}
	}
}
