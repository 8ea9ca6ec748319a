package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Configuration problems are printed by idplug validate and serve, logged by a
// SIGHUP reload and answered by POST /v1/admin/reload: they never repeat a
// secret written in the file.

// refusedWithout parses each configuration, which must be refused, and checks
// that the problems do not repeat secret.
func refusedWithout(t *testing.T, secret string, configs map[string]string) {
	t.Helper()
	for name, yaml := range configs {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(yaml), func(string) (string, bool) { return "", false }, t.TempDir())
			if err == nil {
				t.Fatal("the configuration was accepted; the test needs a refused one")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the configuration error repeats %q:\n%s", secret, err)
			}
		})
	}
}

// A secret written as it is in the file that starts with "*" (a person's
// password, say) is read by YAML as an alias; the YAML library's error names
// the alias, which is the secret without its first character: the problem
// says what to do without it.
func TestUnknownAnchorIsNotQuoted(t *testing.T) {
	const secret = "Hunter2-my-api-key-that-is-long-enough-for-idplug"
	refusedWithout(t, secret, map[string]string{
		"api key": "plugin_dir: /tmp\nsession_keys: [\"0123456789012345678901234567890123\"]\n" +
			"api_keys:\n  - key: *" + secret + "\n    scopes: [admin]\n",
		"session key": "plugin_dir: /tmp\nsession_keys:\n  - *" + secret + "\n",
		"connector client secret": "plugin_dir: /tmp\nsession_keys: [\"0123456789012345678901234567890123\"]\n" +
			"connectors:\n  - id: acme\n    plugin: oauth2\n    config:\n      clientId: acme\n      clientSecret: *" + secret + "\n",
	})
}

// A URL with a user name or password is quoted without them: a client's
// redirect URI and post-logout URI, and a public_url that does not parse.
func TestURLCredentialsAreNotQuoted(t *testing.T) {
	const password = "s3cr3t-basic-auth-password"
	base := "plugin_dir: /tmp\nsession_keys: [\"0123456789012345678901234567890123\"]\n"
	provider := "connectors:\n  - {id: acme, plugin: oauth2}\n" +
		"provider:\n  clients:\n    - id: web\n      secret: \"0123456789012345678901234567890123456789\"\n"
	refusedWithout(t, password, map[string]string{
		"redirect_uris": base + provider +
			"      redirect_uris: [\"https://app:" + password + "@app.example.com/cb\"]\n",
		"post_logout_redirect_uris": base + provider +
			"      redirect_uris: [\"https://app.example.com/cb\"]\n" +
			"      post_logout_redirect_uris: [\"https://app:" + password + "@app.example.com/bye\"]\n",
		"public_url that does not parse": base + "listen: 127.0.0.1:8080\napi_keys: [{key: \"0123456789012345678901234567890123\", scopes: [admin]}]\n" +
			"public_url: \"https://idplug:" + password + "@idplug.example.com/%zz\"\n",
		// A password with "/" in it: the URL does not parse ("invalid port").
		"redirect_uris, a password with a slash": base + provider +
			"      redirect_uris: [\"https://app:" + password + "/x@app.example.com/cb\"]\n",
		"provider issuer": base + provider +
			"      redirect_uris: [\"https://app.example.com/cb\"]\n" +
			"  issuer: \"https://admin:" + password + "@127.0.0.1:8080/oidc\"\n",
		"a connector's logo": base + "connectors:\n  - {id: acme, plugin: oauth2, logo: \"ftp://u:" + password + "@cdn.example.com/x.png\"}\n",
		// The message cuts a long logo at 80 bytes: the password within them.
		"a long logo": base + "connectors:\n  - {id: acme, plugin: oauth2, logo: \"ftp://u:" + password + "@cdn.example.com/" + strings.Repeat("x", 100) + ".png\"}\n",
	})
}

// A reference that is not valid (a name with a space or a dash) is quoted
// without its default, which may be a secret.
func TestInvalidReferenceIsQuotedWithoutItsDefault(t *testing.T) {
	const secret = "dev-only-session-key-but-still-a-secret-0123456789"
	refusedWithout(t, secret, map[string]string{
		"session key": "plugin_dir: /tmp\nsession_keys:\n  - \"${SESSION-KEY:-" + secret + "}\"\n",
	})
}

// An API key (or a provider client's secret) written where YAML reads a key,
// as in the shorthand "- <key>: [admin]" for {key: <key>, scopes: [admin]}, is
// refused as an unknown key; the problem's field path spelled the key out (its
// first 64 bytes: a whole `openssl rand -base64 32` key). A key is shown only
// when it looks like a key name (walk.KeyName), otherwise as <unknown key>
// with its line: so too for a key written twice, and for a problem in the value
// under such a key.
func TestSecretWrittenAsAKeyIsNotQuoted(t *testing.T) {
	const secret = "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo="
	const hex = "d4e0b5f9c1a24c3e8f7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b" // openssl rand -hex 32
	base := "plugin_dir: /tmp\nsession_keys: [\"0123456789012345678901234567890123\"]\n"
	refusedWithout(t, secret, map[string]string{
		"api key with its scopes":   base + "api_keys:\n  - " + secret + ": [admin]\n",
		"api key in a flow mapping": base + "api_keys: [{" + secret + ": [signin]}]\n",
		"provider client secret": base + "connectors:\n  - {id: acme, plugin: oauth2}\n" +
			"provider:\n  clients:\n    - id: web\n      redirect_uris: [\"https://app.example.com/cb\"]\n      " + secret + ": x\n",
		"written twice":        base + "api_keys:\n  - {key: x, scopes: [admin], " + secret + ": 1, " + secret + ": 2}\n",
		"a reference under it": base + "connectors:\n  - {id: acme, plugin: oauth2, config: {" + secret + ": \"${UNSET_IN_THIS_TEST}\"}}\n",
	})
	refusedWithout(t, hex, map[string]string{
		"hex api key with its scopes": base + "api_keys:\n  - " + hex + ": [admin]\n",
	})
	_, err := Parse([]byte(base+"api_keys:\n  - "+secret+": [admin]\n"), envOf(nil), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "idplug.yaml:4: api_keys[0].<unknown key>: unknown key (known keys: key, connectors, scopes)") {
		t.Errorf("the problem does not name the key's line and place:\n%v", err)
	}
}

// A value read through a reference is quoted as the reference was written:
// a secret file or variable put in the wrong setting (a secrets folder's files
// swapped, a mistyped name) would otherwise be printed by idplug validate and
// serve, logged by a refused reload and answered by POST /v1/admin/reload.
func TestReferencedValuesAreNotQuoted(t *testing.T) {
	const secret = "Sup3rS3cret\"Value-abcdefghijklmnop"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "session-key"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) { return secret, name == "SECRET" }
	base := "plugin_dir: /tmp\nsession_keys: [\"0123456789012345678901234567890123\"]\n"
	for name, setting := range map[string]string{
		"listen":                 `listen: "${file:session-key}"`,
		"public_url":             `public_url: "${file:session-key}"`,
		"log_level":              `log_level: "${file:session-key}"`,
		"log_level from env":     `log_level: "${SECRET}"`,
		"log_level, part of it":  `log_level: "debug-${SECRET}"`,
		"trusted_proxies":        `http: {trusted_proxies: ["${file:session-key}"]}`,
		"connector id":           `connectors: [{id: "${file:session-key}", plugin: oauth2}]`,
		"connector id, from env": `connectors: [{id: "${SECRET}", plugin: oauth2}]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(base+setting+"\n"), env, dir)
			if err == nil {
				t.Fatal("accepted; the test needs a refused configuration")
			}
			msg := err.Error()
			if strings.Contains(msg, "abcdefghijklmnop") {
				t.Errorf("the problem prints what the reference read:\n%v", msg)
			}
			if !strings.Contains(msg, "${file:session-key}") && !strings.Contains(msg, "${SECRET}") {
				t.Errorf("the problem does not quote the reference as written:\n%v", msg)
			}
		})
	}
}
