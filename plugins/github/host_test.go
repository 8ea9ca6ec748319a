package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

// TestTheHostSignsInThroughTheBuiltPlugin builds the plugin, drops it into a plugin
// folder, and signs in through the host package against the GitHub stub, as an
// identity server embedding idplug would.
func TestTheHostSignsInThroughTheBuiltPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	s := newGitHubStub(t)
	h := openHost(t)
	ctx := context.Background()
	if refused := h.Refused(); len(refused) > 0 {
		t.Fatalf("refused: %+v", refused)
	}
	proc, ok := h.Plugin("github")
	if !ok {
		t.Fatal("no plugin with id github runs")
	}
	if m := proc.Metadata(); m.Target != "github" || m.IsStandard || m.Name["en"] != "GitHub" || len(m.FormItems) != len(formItems) {
		t.Fatalf("metadata = %+v", m)
	}

	// A bad configuration is refused field by field.
	err := h.Configure(ctx, []host.InstanceConfig{{ID: "gh", Plugin: "github", Config: json.RawMessage(`{"clientID":"x"}`)}})
	var ve *host.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "config.clientID: unknown field; did you mean clientId?") ||
		!strings.Contains(err.Error(), "config.clientSecret: is required") {
		t.Fatalf("Configure(bad) = %v", err)
	}
	// GitHub is not a standard connector: its target is GitHub's.
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "gh", Plugin: "github", Target: "gitlab", Config: mustJSON(s.config(nil))}}); err == nil {
		t.Fatal("Configure accepted another target for a non-standard connector")
	}
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "gh", Plugin: "github", Config: mustJSON(s.config(nil))}}); err != nil {
		t.Fatalf("Configure: %v", err)
	}

	auth, err := h.AuthorizationURI(ctx, "gh", callbackURL, "st-host")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	if u.Scheme+"://"+u.Host != s.URL() || u.Path != "/login/oauth/authorize" || u.Query().Get("state") != "st-host" {
		t.Fatalf("authorization URL = %s", auth.RedirectTo)
	}
	res, err := h.UserInfo(ctx, "gh", auth.Session, map[string]string{"code": s.approve(auth.RedirectTo), "state": "st-host"})
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	if p := res.UserInfo; p.ID != "12345678901" || *p.Name != "The Octocat" || *p.Email != "octocat@github.com" || string(p.RawData) != octocat {
		t.Errorf("profile = %+v", p)
	}

	// Error codes cross the wire whole.
	_, err = h.UserInfo(ctx, "gh", auth.Session, map[string]string{"code": "used-or-made-up", "state": "st-host"})
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeSocialAuthCodeInvalid || e.Details["error"] != "bad_verification_code" {
		t.Errorf("bad code: %v", err)
	}
	s.set(func(s *githubStub) { s.tokens = map[string]bool{} })
	_, err = h.UserInfo(ctx, "gh", auth.Session, map[string]string{"code": s.approve(auth.RedirectTo), "state": "st-host"})
	if !errors.As(err, &e) || e.Code != sdk.CodeSocialAccessTokenInvalid {
		t.Errorf("revoked token: %v", err)
	}
}

// openHost builds the plugin, drops it into a plugin folder and opens a host on it.
func openHost(t *testing.T) *host.Host {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/github"), "github")
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestOrganizationsThroughTheHost signs in through the built plugin with
// organizations on, and runs the operators' guide's mapping (docs/mapping/
// github-organizations) on what crossed the wire: a member of acme is let in
// with the list as a claim, anyone else is refused.
func TestOrganizationsThroughTheHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	s := newGitHubStub(t)
	h := openHost(t)
	ctx := context.Background()
	cfg := s.config(map[string]any{"organizations": true})
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "gh", Plugin: "github", Config: mustJSON(cfg)}}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	m := hosttest.CompileMappingExample(t, "../../docs/mapping/github-organizations/mapping.yaml")
	signIn := func(orgs ...string) (mapping.Result, error) {
		t.Helper()
		s.set(func(s *githubStub) { s.orgs = orgs })
		auth, err := h.AuthorizationURI(ctx, "gh", callbackURL, "st-orgs")
		if err != nil {
			t.Fatal(err)
		}
		if scope, _ := url.Parse(auth.RedirectTo); scope.Query().Get("scope") != "read:user user:email read:org" {
			t.Fatalf("authorization URL = %s", auth.RedirectTo)
		}
		res, err := h.UserInfo(ctx, "gh", auth.Session, map[string]string{"code": s.approve(auth.RedirectTo), "state": "st-orgs"})
		if err != nil {
			t.Fatalf("UserInfo: %v", err)
		}
		return m.Apply(ctx, res.UserInfo)
	}
	r, err := signIn("github", "acme")
	if err != nil {
		t.Fatalf("a member of acme: %v", err)
	}
	if got := fmt.Sprint(r.Claims["github_orgs"]); got != "[github acme]" {
		t.Errorf("github_orgs = %s", got)
	}
	if _, err := signIn("github", "acme-corp"); sdk.AsError(err).Message != "members of the acme organization only" {
		t.Errorf("not a member of acme: %v", err)
	}
}
