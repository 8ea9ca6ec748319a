package server

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

func TestSafeReturnTo(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "/account?tab=1": "/account?tab=1", "/a/b#c": "/a/b#c"} {
		if got, err := safeReturnTo(in, "/"); err != nil || got != want {
			t.Errorf("safeReturnTo(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"https://evil.test/", "//evil.test", "/\\evil.test", "evil.test", "javascript:alert(1)",
		"/ok\r\nSet-Cookie: x", "http:/evil.test", "\t/x"} {
		if _, err := safeReturnTo(bad, "/"); err == nil {
			t.Errorf("safeReturnTo(%q) accepted an open redirect", bad)
		}
	}
}

func TestCallbackData(t *testing.T) {
	// As the body decoder hands them over: each value's exact JSON text.
	var body struct{ Data map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(`{"Data": {"code": "a\u0062c", "n": 12345678901234567890, "neg": -1.5e3,
		"b": true, "f": false, "gone": null}}`), &body); err != nil {
		t.Fatal(err)
	}
	out, err := callbackData(body.Data)
	want := map[string]string{"code": "abc", "n": "12345678901234567890", "neg": "-1.5e3", "b": "true", "f": "false"}
	if err != nil || !maps.Equal(out, want) {
		t.Fatalf("callbackData = %v, %v; want %v", out, err, want)
	}
	for raw, want := range map[string]string{`["a"]`: "must be a string, got an array", `{"a":1}`: "must be a string, got an object"} {
		_, err := callbackData(map[string]json.RawMessage{"state": json.RawMessage(raw)})
		if err == nil || !strings.Contains(err.Error(), "data.state "+want) {
			t.Errorf("callbackData(%s) err = %v", raw, err)
		}
	}
}

func TestEveryErrorCodeHasItsStatus(t *testing.T) {
	for code, want := range map[sdk.ErrorCode]int{
		sdk.CodeInvalidConfig: 400, sdk.CodeInvalidRequestParameters: 400, sdk.CodeInsufficientRequestParameters: 400,
		sdk.CodeInvalidResponse: 400, CodeSessionInvalid: 400, CodeSessionExpired: 400, CodeSessionUsed: 400, CodeStoreUnavailable: 503,
		sdk.CodeSocialAuthCodeInvalid: 401, sdk.CodeSocialAccessTokenInvalid: 401, sdk.CodeSocialIDTokenInvalid: 401,
		sdk.CodeAuthorizationFailed: 401, CodeUnauthorized: 401,
		host.CodeInstanceNotFound: 404, CodeNotFound: 404, CodeRequestTooLarge: 413, sdk.CodeRateLimitExceeded: 429,
		CodeCrossOrigin: 403, CodeMethodNotAllowed: 405, CodeTooManyAttempts: 429,
		sdk.CodeGeneral: 500, sdk.CodeNotImplemented: 501, sdk.CodeProviderUnavailable: 502,
		host.CodePluginUnavailable: 503, host.CodePluginOverloaded: 503, sdk.CodeProviderTimeout: 504, host.CodePluginTimeout: 504,
	} {
		if got := statusFor(code); got != want {
			t.Errorf("statusFor(%s) = %d, want %d", code, got, want)
		}
	}
	if statusFor("something_new") != http.StatusInternalServerError {
		t.Error("an unknown code must be a 500")
	}
}

func TestClaimsOf(t *testing.T) {
	c := claimsOf(sdk.UserInfo{ID: "42", Name: sdk.String(""), Avatar: sdk.String("https://a.test/p.png")}, nil)
	if c["sub"] != "42" || c["name"] != "" || c["picture"] != "https://a.test/p.png" || len(c) != 3 {
		t.Fatalf("claims = %v", c)
	}
}

func TestCheckScope(t *testing.T) {
	for _, ok := range []string{"", "openid", "openid email profile", "read:user https://graph.example/.default"} {
		if err := checkScope(ok); err != nil {
			t.Errorf("checkScope(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{" ", "openid ", "a  b", "a\tb", "a\nb", `a"b`, `a\b`, "é", strings.Repeat("x", maxScopeLength+1)} {
		if err := checkScope(bad); err == nil {
			t.Errorf("checkScope(%q) accepted", bad)
		}
	}
}
