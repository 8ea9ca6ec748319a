package oauth2kit

import (
	"errors"
	"net/http"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// The fuzz targets check that hostile provider input never panics and always ends
// in either a value or an *sdk.Error. `go test` runs the seeds; `go test -fuzz`
// explores further.

func FuzzMapProfile(f *testing.F) {
	for _, seed := range []struct{ raw, idPath, namePath string }{
		{`{"id":12345678901,"name":"Ann"}`, "id", "name"},
		{`{"data":{"user":{"id":"w1"}}}`, "data.user.id", "data.user.name"},
		{`{"emails":[{"value":"a@example.com"}],"id":"x"}`, "id", "emails.0.value"},
		{`{"id":1e400,"name":-0}`, "id", "name"},
		{`{"id":false,"name":{"a":[]}}`, "id", "name"},
		{`[1,2,3]`, "0", "1"},
		{`{"a.b":{"c":"d"}}`, "a.b.c", "a[b]"},
		{`null`, "", ""},
		{`{"id":"x"} trailing`, "id", ""},
	} {
		f.Add([]byte(seed.raw), seed.idPath, seed.namePath)
	}
	f.Fuzz(func(t *testing.T, raw []byte, idPath, namePath string) {
		u, err := MapProfile(raw, ProfileMap{ID: idPath, Name: namePath, Email: namePath + ".0"})
		if err != nil {
			mustBeSDKError(t, err)
			return
		}
		if u.ID == "" {
			t.Fatalf("MapProfile(%q) returned an empty id without an error", raw)
		}
	})
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, seed := range []struct {
		status      int
		contentType string
		body        string
		format      string
	}{
		{200, "application/json", `{"access_token":"at","expires_in":"3600","scope":["a","b"]}`, ""},
		{200, "application/x-www-form-urlencoded", "access_token=at&scope=repo%2Cuser&token_type=bearer", ""},
		{400, "application/json", `{"error":"invalid_grant","error_description":"expired"}`, ""},
		{200, "text/plain", "error=bad_verification_code", ""},
		{502, "text/html", "<html>bad gateway</html>", ""},
		{200, "application/json", `{"access_token":"at","expires_in":1e309}`, "json"},
		{200, "", "%zz", "form"},
		{307, "", "", ""},
		{200, "application/json", `{"error":{"nested":[1,2]}}`, ""},
	} {
		f.Add(seed.status, seed.contentType, []byte(seed.body), seed.format)
	}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte, format string) {
		resp := TokenResponse{Status: status, Header: http.Header{"Content-Type": {contentType}}, Body: body}
		for _, grant := range []GrantType{GrantAuthorizationCode, GrantRefreshToken} {
			tok, err := ParseTokenResponse(resp, ResponseFormat(format), grant)
			if err != nil {
				mustBeSDKError(t, err)
				continue
			}
			if tok.AccessToken == "" || tok.TokenType == "" || tok.ExpiresIn < 0 {
				t.Fatalf("token %+v from %q", tok, body)
			}
		}
	})
}

func FuzzReadCallback(f *testing.F) {
	for _, seed := range []struct{ state, code, iss, errCode, sessionState, issuer string }{
		{"s", "c", "", "", "s", ""},
		{"s", "c", "https://id.example.com", "", "s", "https://id.example.com"},
		{"s", "", "", "access_denied", "s", ""},
		{"x", "c", "", "", "s", ""},
		{"", "", "", "", "", ""},
		{"s", "c", "https://evil", "", "s", "https://id.example.com"},
		{"s\x00", "c\n", "\xff", "\x7f", "s\x00", "\xff"},
	} {
		f.Add(seed.state, seed.code, seed.iss, seed.errCode, seed.sessionState, seed.issuer)
	}
	f.Fuzz(func(t *testing.T, state, code, iss, errCode, sessionState, issuer string) {
		params := map[string]string{"state": state, "code": code, "iss": iss, "error": errCode, "error_description": errCode}
		got, err := ReadCallback(params, CallbackCheck{State: sessionState, Issuer: issuer})
		if err != nil {
			mustBeSDKError(t, err)
			return
		}
		if got != code || code == "" || state != sessionState || errCode != "" || (issuer != "" && iss != issuer) {
			t.Fatalf("accepted callback %v against state %q issuer %q", params, sessionState, issuer)
		}
	})
}

func mustBeSDKError(t *testing.T, err error) {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code == "" {
		t.Fatalf("error %v (%T) is not an *sdk.Error with a code", err, err)
	}
}
