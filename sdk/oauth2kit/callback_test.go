package oauth2kit

import (
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func TestReadCallback(t *testing.T) {
	const issuer = "https://id.example.com"
	tests := []struct {
		name     string
		params   map[string]string
		want     CallbackCheck
		code     sdk.ErrorCode // empty: success
		contains string
	}{
		{"ok", map[string]string{"state": "s1", "code": "c1"}, CallbackCheck{State: "s1"}, "", ""},
		{"ok with issuer", map[string]string{"state": "s1", "code": "c1", "iss": issuer}, CallbackCheck{State: "s1", Issuer: issuer}, "", ""},
		{"iss ignored without a configured issuer", map[string]string{"state": "s1", "code": "c1", "iss": "https://other"}, CallbackCheck{State: "s1"}, "", ""},
		{"state mismatch", map[string]string{"state": "s2", "code": "c1"}, CallbackCheck{State: "s1"}, sdk.CodeInvalidRequestParameters, "state mismatch"},
		{"state missing", map[string]string{"code": "c1"}, CallbackCheck{State: "s1"}, sdk.CodeInvalidRequestParameters, "state mismatch"},
		{"session without state", map[string]string{"state": "", "code": "c1"}, CallbackCheck{}, sdk.CodeInvalidRequestParameters, "state mismatch"},
		{"iss missing", map[string]string{"state": "s1", "code": "c1"}, CallbackCheck{State: "s1", Issuer: issuer}, sdk.CodeInvalidRequestParameters, "no iss"},
		{"iss mismatch", map[string]string{"state": "s1", "code": "c1", "iss": "https://evil.example"}, CallbackCheck{State: "s1", Issuer: issuer}, sdk.CodeInvalidRequestParameters, "https://evil.example"},
		{"provider error", map[string]string{"state": "s1", "error": "access_denied", "error_description": "User said no"}, CallbackCheck{State: "s1"}, sdk.CodeAuthorizationFailed, "access_denied (User said no)"},
		{"forged error with a wrong state", map[string]string{"state": "s2", "error": "access_denied"}, CallbackCheck{State: "s1"}, sdk.CodeInvalidRequestParameters, "state mismatch"},
		{"code missing", map[string]string{"state": "s1"}, CallbackCheck{State: "s1"}, sdk.CodeInsufficientRequestParameters, "no code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := ReadCallback(tt.params, tt.want)
			if tt.code == "" {
				if err != nil || code != tt.params["code"] {
					t.Fatalf("ReadCallback = %q, %v; want %q", code, err, tt.params["code"])
				}
				return
			}
			e := wantCode(t, err, tt.code)
			if !strings.Contains(e.Message, tt.contains) {
				t.Errorf("message %q does not say %q", e.Message, tt.contains)
			}
			wantNoLeak(t, err, tt.params["code"], tt.want.State, tt.params["state"])
		})
	}
}

func TestReadCallbackKeepsTheProviderErrorWhole(t *testing.T) {
	_, err := ReadCallback(map[string]string{
		"state": "s", "error": "access_denied", "error_description": "no\nway", "error_uri": "https://id.example.com/help",
	}, CallbackCheck{State: "s"})
	e := wantCode(t, err, sdk.CodeAuthorizationFailed)
	want := map[string]any{"error": "access_denied", "error_description": "no way", "error_uri": "https://id.example.com/help"}
	for k, v := range want {
		if e.Details[k] != v {
			t.Errorf("details[%s] = %v, want %v", k, e.Details[k], v)
		}
	}
}
