package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
)

// The provider a plugin names for a configuration's tokens, which the vault
// binds them to, is the plugin's id and what it names. A plugin cannot make
// the host keep a name past its bound (1 KiB): the configuration is refused,
// naming the plugin. (A string that is not UTF-8 does not get through
// protobuf.)
func TestInstanceNamesTheProviderOfItsTokens(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, templatedPkg), "templated")
	h := open(t, dir, host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := func(provider string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{"provider": provider})
		return b
	}
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "named", Plugin: "templated", Config: cfg("token_endpoint=https://a.example/token client_id=x")},
		{ID: "unnamed", Plugin: "templated", Config: json.RawMessage(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"named":   "templated\ntoken_endpoint=https://a.example/token client_id=x",
		"unnamed": "templated\n",
	} {
		if got, err := h.TokensProvider(id); err != nil || got != want {
			t.Errorf("%s: provider %q, %v; want %q", id, got, err, want)
		}
	}
	if b, _ := json.Marshal(mustInstance(t, h, "named")); strings.Contains(string(b), "a.example") {
		t.Errorf("the provider is shown to clients: %s", b)
	}

	err := h.Configure(ctx, []host.InstanceConfig{{ID: "long", Plugin: "templated", Config: cfg(strings.Repeat("x", 1025))}})
	var ve *host.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "plugin templated named the provider of this configuration's tokens in a way idplug cannot keep") ||
		!strings.Contains(err.Error(), "at most 1024 bytes") {
		t.Errorf("a provider over 1 KiB: %v", err)
	}
	// The vault's calls send kept tokens only while the instance names the
	// provider they were kept for: a reload may have changed it since.
	if _, err := h.RefreshTokensFor(ctx, "named", "templated\ntoken_endpoint=https://b.example/token client_id=x", "rt"); err == nil ||
		!strings.Contains(err.Error(), "names another provider than the one these tokens were kept for") {
		t.Errorf("a refresh for another provider: %v", err)
	}
	if err := h.RevokeTokenFor(ctx, "named", "templated\n", "rt", "refresh_token"); err == nil ||
		!strings.Contains(err.Error(), "names another provider") {
		t.Errorf("a revocation for another provider: %v", err)
	}

	// The refused configurations left the served ones as they were.
	if got, err := h.TokensProvider("named"); err != nil || !strings.HasSuffix(got, "client_id=x") {
		t.Errorf("after the refused configurations: %q, %v", got, err)
	}
}

func mustInstance(t *testing.T, h *host.Host, id string) host.InstanceDetail {
	t.Helper()
	d, err := h.Instance(id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
