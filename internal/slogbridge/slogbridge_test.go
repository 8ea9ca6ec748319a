package slogbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// oidcError logs itself as a group, as zitadel/oidc's errors do.
type oidcError struct{}

func (oidcError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", "invalid_request"), slog.String("description", "redirect_uri is not a URL"),
		slog.Any("parent", errors.New("parse failed")))
}

func TestRecordsBecomeHclogLines(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Name: "idplug", Output: &buf, JSONFormat: true, Level: hclog.Info})
	l := slog.New(New(log.Named("lib")))

	l.Warn("request error", slog.Any("oidc_error", oidcError{}), slog.Int("status_code", 400))
	l.With("client", "web").WithGroup("auth_request").Info("auth request", "scopes", []string{"openid"})
	l.Debug("below log_level")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var first, second map[string]any
	if json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil {
		t.Fatalf("not JSON:\n%s", buf.String())
	}
	for k, want := range map[string]any{"@level": "warn", "@module": "idplug.lib", "@message": "request error",
		"oidc_error.type": "invalid_request", "oidc_error.description": "redirect_uri is not a URL", "oidc_error.parent": "parse failed",
		"status_code": float64(400)} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v in %s", k, first[k], want, lines[0])
		}
	}
	if second["@level"] != "info" || second["client"] != "web" || second["auth_request.scopes"] == nil {
		t.Errorf("second line: %s", lines[1])
	}
}

// What an app sent (its state, in an attribute and in a whole redirect URL, as
// zitadel/oidc logs an error redirect) and secrets under plain names are
// logged as [redacted], in a group too; other attributes stay.
func TestHiddenAttributesAreRedacted(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(New(hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true})))
	const state = "app-csrf-state-Zq8vK2mN4pR7tX1y"
	l.Warn("auth request redirect", slog.Group("oidc_error", slog.String("state", state), slog.String("type", "login_required")),
		slog.String("url", "https://app.test/cb?error=login_required&state="+state), slog.String("code", "c0de-0123456789"))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), state) || strings.Contains(buf.String(), "c0de-0123456789") {
		t.Errorf("the line holds what it must not: %s", buf.String())
	}
	for k, want := range map[string]any{"oidc_error.state": "[redacted]", "url": "[redacted]", "code": "[redacted]", "oidc_error.type": "login_required"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
}
