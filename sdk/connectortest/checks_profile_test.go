package connectortest

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// token has the characters that encodings change: "/" and "+" (JSON may escape
// the one, URL encoding both), as a real provider's opaque tokens do.
const token = "gho_16C7e42F292c6912E7710c8/38+Ea1k"

// TestProfileFindingsSeeThroughEncodings plants a token in a profile the ways a
// careless connector would, and expects each to be found, where it is, without
// the message ever showing the token.
func TestProfileFindingsSeeThroughEncodings(t *testing.T) {
	answer := `{"access_token":"` + token + `","token_type":"bearer"}`
	escaped, _ := json.Marshal(answer) // a JSON string holding JSON: \" and, with "/" escaped, \/
	jwtPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u1","at":"` + token + `"}`))
	for _, c := range []struct {
		what string
		user sdk.UserInfo
		want string
	}{
		{"as it is, in a field", sdk.UserInfo{ID: "u1", Name: sdk.String("Bearer " + token)},
			"the profile's name carries the access token"},
		{"as it is, deep in rawData", sdk.UserInfo{ID: "u1", RawData: json.RawMessage(`{"session":{"tokens":[{"v":"` + token + `"}]}}`)},
			"the profile's rawData carries the access token (at rawData.session.tokens[0].v)"},
		{"split by JSON escapes in rawData", sdk.UserInfo{ID: "u1", RawData: json.RawMessage(`{"t":"gho_16C7e42F292c6912E7710c8\u002f38\u002bEa1k"}`)},
			"(at rawData.t)"},
		{"the token answer as a JSON string, \\/ escaped", sdk.UserInfo{ID: "u1", RawData: json.RawMessage(`{"answer":` + strings.ReplaceAll(string(escaped), "/", `\\/`) + `}`)},
			"(at rawData.answer, JSON-escaped)"},
		{"URL-encoded in the avatar", sdk.UserInfo{ID: "u1", Avatar: sdk.String("https://cdn.example/a.png?t=" + url.QueryEscape(token))},
			"the profile's avatar carries the access token (URL-encoded)"},
		{"the token answer base64'd, padded", sdk.UserInfo{ID: "u1", RawData: json.RawMessage(`{"blob":"` + base64.StdEncoding.EncodeToString([]byte(answer)) + `"}`)},
			"(at rawData.blob, base64-encoded)"},
		{"base64 glued to letters before it", sdk.UserInfo{ID: "u1", RawData: json.RawMessage(`{"blob":"v1` + base64.RawURLEncoding.EncodeToString([]byte(answer)) + `"}`)},
			"(at rawData.blob, base64-encoded)"},
		{"inside a JWT", sdk.UserInfo{ID: "u1", RawData: json.RawMessage(`{"jwt":"eyJhbGciOiJub25lIn0.` + jwtPayload + `.c2ln"}`)},
			"(at rawData.jwt, base64-encoded)"},
		{"a form answer URL-encoded, then base64'd", sdk.UserInfo{ID: "u1", RawData: json.RawMessage(`{"blob":"` + base64.StdEncoding.EncodeToString([]byte("access_token="+url.QueryEscape(token)+"&scope=user")) + `"}`)},
			"(at rawData.blob, URL-encoded inside base64-encoded)"},
		{"as a key", sdk.UserInfo{ID: "u1", RawData: json.RawMessage(`{"grants":{"` + token + `":{"ok":true}}}`)},
			"(at a key of rawData.grants)"},
		{"as the id", sdk.UserInfo{ID: token},
			"the profile's id carries the access token"},
	} {
		t.Run(c.what, func(t *testing.T) {
			found := profileFindings(c.user, []needle{{token, "the access token"}, {"connectortest-secret-0123456789abcdef", "the client secret"}})
			if len(found) != 1 {
				t.Fatalf("found %d: %v; want one, the access token", len(found), found)
			}
			said := found[0].String()
			if !strings.Contains(said, c.want) {
				t.Errorf("found %q; want it to say %q", said, c.want)
			}
			for _, shown := range []string{token, url.QueryEscape(token), "16C7e42F292c"} {
				if strings.Contains(said, shown) {
					t.Errorf("the finding shows the token: %q", said)
				}
			}
		})
	}
}

// TestProfileFindingsWithholdAKeyThatCarriesASecret: a path through such a key
// would show the secret in the message that reports a value under it.
func TestProfileFindingsWithholdAKeyThatCarriesASecret(t *testing.T) {
	raw := json.RawMessage(`{"byToken":{"` + token + `":{"secret":"connectortest-secret-0123456789abcdef"}}}`)
	found := profileFindings(sdk.UserInfo{ID: "u1", RawData: raw}, []needle{{token, "the access token"}, {"connectortest-secret-0123456789abcdef", "the client secret"}})
	var said []string
	for _, f := range found {
		said = append(said, f.String())
	}
	all := strings.Join(said, "\n")
	if len(found) != 2 || !strings.Contains(all, "at rawData.byToken.(a key withheld).secret") || strings.Contains(all, token) {
		t.Errorf("findings:\n%s\nwant the access token in a key of rawData.byToken, and the secret at rawData.byToken.(a key withheld).secret", all)
	}
}

// TestProfileFindingsLeaveACleanProfileAlone: the fake provider's profile, with
// its URL, email and numbers, decodes to nothing that looks like a secret.
func TestProfileFindingsLeaveACleanProfileAlone(t *testing.T) {
	u := sdk.UserInfo{ID: "connectortest-user-1", Name: sdk.String("Connie Tester"),
		Avatar: sdk.String("https://connectortest.example/avatar.png"), Email: sdk.String("connie@connectortest.example"),
		RawData: json.RawMessage(DefaultProfile)}
	if found := profileFindings(u, []needle{{token, "the access token"}, {"connectortest-secret-0123456789abcdef", "the client secret"}}); len(found) > 0 {
		t.Errorf("found %v in a profile without secrets", found)
	}
}
