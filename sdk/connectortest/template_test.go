package connectortest_test

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/kitrecord"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// templated is a connector that declares authorization templates; its defect
// makes its AuthorizationURI or its template wrong in one way.
type templated struct{}

type templatedConfig struct {
	Endpoint string `json:"endpoint"`
	Defect   string `json:"defect"`
}

// templatedRandom is where templated draws its nonces and verifiers.
var templatedRandom io.Reader

func (templated) Metadata() sdk.Metadata { return sdk.Metadata{ID: "templated"} }

func (templated) ParseConfig(raw []byte) (*templatedConfig, error) {
	var c templatedConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	var problems sdk.ConfigError
	if c.Endpoint == "" {
		problems.Add("endpoint", "is required")
	}
	return &c, problems.Err()
}

func (templated) AuthorizationTemplate(c *templatedConfig) *sdk.AuthorizationTemplate {
	t := &sdk.AuthorizationTemplate{
		Endpoint: c.Endpoint, Params: map[string]string{"client_id": "app", "response_type": "code"},
		StateParam: "state", RedirectURIParam: "redirect_uri", ScopeParam: "scope", Scope: "profile",
		RequiredScopes: []string{"openid"}, NonceParam: "nonce", PKCE: true,
		Session: sdk.SessionTemplate{State: "state", RedirectURI: "redirectUri", CodeVerifier: "codeVerifier", Nonce: "nonce"},
	}
	switch c.Defect {
	case "no template":
		return nil
	case "unsound":
		t.StateParam = ""
	}
	return t
}

func (c templated) AuthorizationURI(_ context.Context, cfg *templatedConfig, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	random := templatedRandom
	if cfg.Defect == "own random" {
		random = nil
	}
	auth, err := c.AuthorizationTemplate(&templatedConfig{Endpoint: cfg.Endpoint}).Build(req, random)
	if err == nil && cfg.Defect == "extra session" {
		auth.Session["extra"] = "x"
	}
	return auth, err
}

func (templated) UserInfo(context.Context, *templatedConfig, sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	return nil, sdk.Errorf(sdk.CodeNotImplemented, "not used")
}

// withDefects is one configuration per defect, named after it.
func withDefects(defects ...string) map[string]any {
	configs := map[string]any{}
	for _, d := range defects {
		configs[d] = map[string]any{"endpoint": "https://op.example/authorize?tenant=t1", "defect": d}
	}
	return configs
}

// checkTemplated runs CheckAuthorizationTemplate with a recorder.
func checkTemplated(t *testing.T, setRandom func(io.Reader), configs map[string]any) *kitrecord.Records {
	r := kitrecord.New(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		connectortest.CheckAuthorizationTemplate(r, templated{}, connectortest.TemplateOptions{Configs: configs, SetRandom: setRandom})
	}()
	<-done
	return r.Records()
}

func setTemplatedRandom(r io.Reader) { templatedRandom = r }

func TestCheckAuthorizationTemplatePassesAFaithfulConnector(t *testing.T) {
	configs := withDefects("")
	configs["raw JSON"] = json.RawMessage(`{"endpoint":"https://op.example/a"}`)
	rec := checkTemplated(t, setTemplatedRandom, configs)
	if failed := rec.Failed(); len(failed) > 0 {
		t.Fatalf("failed %v:%s", failed, rec)
	}
	if templatedRandom != nil {
		t.Error("SetRandom was not set back to nil")
	}
}

func TestCheckAuthorizationTemplateCatchesEachDefect(t *testing.T) {
	rec := checkTemplated(t, setTemplatedRandom, withDefects("", "no template", "unsound", "own random", "extra session"))
	if got, want := rec.Failed(), []string{"extra session", "no template", "own random", "unsound"}; !slices.Equal(got, want) {
		t.Fatalf("failed = %v, want %v:%s", got, want, rec)
	}
	for name, msg := range map[string]string{
		"no template":   "no template declared",
		"unsound":       "the host would refuse the template",
		"own random":    "plugin &{RedirectTo:",
		"extra session": "extra:x",
	} {
		if got := rec.Messages(name); !strings.Contains(got, msg) {
			t.Errorf("%s: %q, want a message containing %q", name, got, msg)
		}
	}
}

func TestCheckAuthorizationTemplateWantsSetRandomForARandomTemplate(t *testing.T) {
	rec := checkTemplated(t, nil, withDefects("plain"))
	if got := rec.Messages("plain"); !strings.Contains(got, "TemplateOptions.SetRandom is nil") {
		t.Errorf("messages = %q, want one asking for SetRandom:%s", got, rec)
	}
}

func TestCheckAuthorizationTemplateReportsARefusedConfig(t *testing.T) {
	rec := checkTemplated(t, setTemplatedRandom, map[string]any{"empty": json.RawMessage(`{"endpoint":""}`)})
	if got := rec.Messages("empty"); !strings.Contains(got, "ParseConfig") || !strings.Contains(got, "endpoint") {
		t.Errorf("messages = %q, want ParseConfig's refusal naming endpoint:%s", got, rec)
	}
}

func TestCheckAuthorizationTemplateWantsConfigs(t *testing.T) {
	rec := checkTemplated(t, setTemplatedRandom, nil)
	if got := rec.Messages(""); !strings.Contains(got, "TemplateOptions.Configs is empty") {
		t.Errorf("messages = %q, want one saying there is nothing to compare", got)
	}
}

// learning is a connector with no template at configure time, that reports its
// template once it has served an authorization (as one that discovers its
// endpoint does); its defect makes that report wrong.
type learning struct{}

func (learning) Metadata() sdk.Metadata { return templated{}.Metadata() }
func (learning) ParseConfig(raw []byte) (*templatedConfig, error) {
	return templated{}.ParseConfig(raw)
}
func (learning) UserInfo(ctx context.Context, c *templatedConfig, r sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	return templated{}.UserInfo(ctx, c, r)
}

// learnt are the configurations that have served an authorization.
var learnt sync.Map

func (learning) AuthorizationURI(ctx context.Context, cfg *templatedConfig, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	learnt.Store(cfg, true)
	return templated{}.AuthorizationURI(ctx, cfg, req)
}

func (learning) CurrentAuthorizationTemplate(c *templatedConfig) (*sdk.AuthorizationTemplate, time.Duration) {
	if _, ok := learnt.Load(c); !ok || c.Defect == "never reports" {
		return nil, 0
	}
	t := templated{}.AuthorizationTemplate(&templatedConfig{Endpoint: c.Endpoint})
	if c.Defect == "another endpoint" {
		t.Endpoint = "https://elsewhere.example/authorize"
	}
	return t, time.Minute
}

// TestCheckAuthorizationTemplateChecksAReportedTemplate: a connector whose
// template comes only after an authorization is checked with that template.
func TestCheckAuthorizationTemplateChecksAReportedTemplate(t *testing.T) {
	r := kitrecord.New(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		connectortest.CheckAuthorizationTemplate(r, learning{}, connectortest.TemplateOptions{
			Configs: withDefects("", "never reports", "another endpoint"), SetRandom: setTemplatedRandom})
	}()
	<-done
	rec := r.Records()
	if got, want := rec.Failed(), []string{"another endpoint", "never reports"}; !slices.Equal(got, want) {
		t.Fatalf("failed = %v, want %v:%s", got, want, rec)
	}
	if got := rec.Messages("never reports"); !strings.Contains(got, "nor reported after an authorization") {
		t.Errorf("never reports: %q", got)
	}
	if got := rec.Messages("another endpoint"); !strings.Contains(got, "elsewhere.example") {
		t.Errorf("another endpoint: %q", got)
	}
}
