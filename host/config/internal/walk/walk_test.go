package walk

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// problemsOf renders err's problems as "line field: message".
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var we *Error
	if !errors.As(err, &we) {
		t.Fatalf("error %T (%v) is not a *walk.Error", err, err)
	}
	var out []string
	for _, p := range we.Problems {
		out = append(out, (strconv.Itoa(p.Line) + " " + p.Field + ": " + p.Message))
	}
	return out
}

func TestPathString(t *testing.T) {
	var root *Path
	p := root.Key("connectors").Item(1).Key("config").Key("scope")
	if got := p.String(); got != "connectors[1].config.scope" {
		t.Errorf("path = %q", got)
	}
	if got := root.String(); got != "" {
		t.Errorf("root = %q", got)
	}
	secret := root.Key("api_keys").Item(0).Key("Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=")
	if got := secret.String(); got != "api_keys[0]."+HiddenKey {
		t.Errorf("path = %q", got)
	}
	if got := root.Key(strings.Repeat("a", 65)).String(); got != HiddenKey {
		t.Errorf("long key rendered as %q", got)
	}
}

// A problem shows a key only when it looks like a name: the file's keys, a
// plugin's settings (camelCase; Logto's field names), claim names, language
// tags and plugin names; never a key made of random text, which is a secret
// written where YAML reads a key.
func TestKeyName(t *testing.T) {
	for _, name := range []string{
		// The file's keys.
		"plugin_dir", "id_token_signed_response_alg", "post_logout_redirect_uris", "logoDark",
		// Settings of plugins and of Logto's connectors.
		"clientId", "clientSecret", "scope", "authorizationEndpoint", "tokenEndpointResponseType",
		"idTokenVerificationConfig", "jwksUri", "accessKeyId", "sdkAppId", "x509Certificate",
		"entityID", "nameIDFormat", "accountSID", "fromMessagingServiceSID", "feedbackForwardingEmailAddress",
		"iOSClientId", "isHTTPSOnly", "customHeaders", "X-Mailer", "s3Bucket", "sha256", "iso8601",
		// Claims, language tags, plugin names and prefixes.
		"groups", "urn:acme:role", "pt-BR", "zh-Hant-TW", "oauth2", "logto-github", "logto-*", "_private",
	} {
		if !KeyName(name) {
			t.Errorf("KeyName(%q) = false, want true", name)
		}
	}
	for _, secret := range []string{
		"Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=",                     // openssl rand -base64 32
		"d4e0b5f9c1a24c3e8f7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b", // openssl rand -hex 32
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4",                         // a GitHub client secret: 40 hex digits
		"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",                              // a Google client secret
		"xJ2k_Lp9QzR7vWm3NtY5bHcD8fGsA4eU1oIq6rTyVwE",                      // base64url, 32 bytes
		"hV7mKq2ZpWn9XbRt", // 16 letters and digits
		"p@ssw0rd!", "my secret", "a/b", "*", "a*b", "", strings.Repeat("a", 65), "é",
	} {
		if KeyName(secret) {
			t.Errorf("KeyName(%q) = true, want false", secret)
		}
	}
}
func TestUnknownKeySuggests(t *testing.T) {
	allowed := []string{"listen", "logoDark"}
	for key, want := range map[string]string{
		"lisen":     "unknown key; did you mean listen?",
		"logo_dark": "unknown key; did you mean logoDark?",
		"zzz":       "unknown key (known keys: listen, logoDark)",
	} {
		if got := unknownKey(key, allowed); got != want {
			t.Errorf("unknownKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		doc, want string
	}{
		"syntax":        {"a: 1\nb: [1, 2\n", "YAML syntax"},
		"two docs":      {"a: 1\n---\nb: 2\n", "a second YAML document starts here"},
		"too deep":      {strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + "\n", "nested more than"},
		"unknown alias": {"a: 1\nb: *nope\n", "a value starting with \"*\""},
		// The reader's encoding errors, given the line of the first byte at fault.
		"not UTF-8":    {"a: 1\nb: 2\nc: 3\nd: 4\ne: caf\xe9\n", "5 : YAML syntax: incomplete UTF-8 octet sequence (byte 0xe9, not UTF-8)"},
		"a control":    {"a: 1\nb: x\x01y\n", "2 : YAML syntax: control characters are not allowed (U+0001)"},
		"a C1 control": {"a: 1\n\nb: x\u0085y\u0090\n", "3 : YAML syntax: control characters are not allowed (U+0090)"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			got := problemsOf(t, err)
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("problems = %q, want one containing %q", got, tt.want)
			}
		})
	}
	if root, err := Parse(nil); root != nil || err != nil {
		t.Errorf("empty document: %v, %v", root, err)
	}
}

func TestKnownMergesAndChecks(t *testing.T) {
	root, err := Parse([]byte("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n  y: 4\n  wat: 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	d := NewDecoder(&ps)
	top := d.Known(root, nil, []string{"base", "m"})
	e, ok, at := top.At("m")
	if !ok {
		t.Fatal("m missing")
	}
	m := d.Known(e.Value, at.Path, []string{"x", "y"})
	if x, set, _ := m.Text("x"); !set || x != "1" {
		t.Errorf("merged x = %q, %v", x, set)
	}
	if y, set, _ := m.Text("y"); !set || y != "3" {
		t.Errorf("y = %q, %v; the key written first in the mapping wins over the merged one", y, set)
	}
	got := problemsOf(t, ps.Err())
	want := []string{"5 m.y: is set twice (first on line 4)", "6 m.wat: unknown key (known keys: x, y)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
}

func TestAliasToItselfIsAProblem(t *testing.T) {
	root, err := Parse([]byte("a: &a [1, *a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	d := NewDecoder(&ps)
	var buf bytes.Buffer
	d.ToJSON(&buf, root, nil)
	if err := ps.Err(); err == nil || !strings.Contains(err.Error(), "refers to itself through an alias") {
		t.Errorf("err = %v", err)
	}
}

func TestToJSONKeepsNumbersAndOrder(t *testing.T) {
	root, err := Parse([]byte("z: 123456789012345678901234567890\na: 1.50\nm: {k: [true, null, \"<&>\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	var buf bytes.Buffer
	NewDecoder(&ps).ToJSON(&buf, root, nil)
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	want := `{"z":123456789012345678901234567890,"a":1.50,"m":{"k":[true,null,"<&>"]}}`
	if buf.String() != want {
		t.Errorf("json = %s\nwant   %s", buf.String(), want)
	}
}
