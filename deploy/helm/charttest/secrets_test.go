package charttest

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// secrets.files names become Secret keys and file names: written unquoted, a name
// YAML reads otherwise was lost or changed without an error (one starting with #
// became a comment), and one that is no valid Secret key rendered a Secret the
// API server refuses. The chart quotes them and refuses a bad one by name; it
// refuses files given with existingSecret (they were dropped silently).
func TestSecretFileNames(t *testing.T) {
	for _, name := range []string{"#session-key", "api key", "..", "a/b"} {
		t.Run(name, func(t *testing.T) {
			refused(t, map[string]any{"secrets": map[string]any{"files": map[string]any{name: "value-0123456789abcdef0123456789abcdef"}}},
				`secrets.files: "`+name+`" is not a valid file name`)
		})
	}
	files := map[string]any{
		"session-key": "a-session-key-0123456789abcdef0123456789",
		"api-key":     "an-api-key-0123456789abcdef0123456789",
		"true":        "t", "1e3": "n", "null": "z", "-dash": "d", "x.y_z": "x",
	}
	r := mustRender(t, map[string]any{"secrets": map[string]any{"files": files}})
	if len(r.Secrets) != 1 {
		t.Fatalf("%d Secrets", len(r.Secrets))
	}
	got := secretFiles(r.Secrets[0])
	for k, v := range files {
		if string(got[k]) != v {
			t.Errorf("secrets.files[%q] is %q in the Secret", k, got[k])
		}
	}
	for k := range got {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			t.Errorf("Secret key %q: %v", k, errs)
		}
	}
	refused(t, map[string]any{"secrets": map[string]any{
		"existingSecret": "mine", "files": map[string]any{"api-key": "value-0123456789abcdef0123456789abcdef"}}},
		"secrets: files and existingSecret are both set")
}

// Every ${file:/etc/idplug/secrets/NAME} the config reads must be there in the pod:
// with no Secret mounted (values.yaml's defaults alone) or NAME missing from
// secrets.files, idplug would exit at once, so the chart refuses, naming the files.
// An extra volume mounted there (a CSI secrets store) is the operator's.
func TestSecretReferencesMounted(t *testing.T) {
	refused(t, map[string]any{},
		"secrets: the config reads api-key, session-key from /etc/idplug/secrets, where no Secret is mounted; set secrets.existingSecret")
	refused(t, map[string]any{"secrets": map[string]any{"files": map[string]any{"session-key": "a-session-key-0123456789abcdef0123456789"}}},
		"secrets.files: the config reads ${file:/etc/idplug/secrets/api-key}, which secrets.files does not hold")
	mustRender(t, map[string]any{
		"extraVolumes":      []any{map[string]any{"name": "csi", "csi": map[string]any{"driver": "secrets-store.csi.k8s.io", "readOnly": true}}},
		"extraVolumeMounts": []any{map[string]any{"name": "csi", "mountPath": "/etc/idplug/secrets", "readOnly": true}},
	})
}

// A secret written as it is in config (or configYaml) went into the ConfigMap,
// which whoever may read ConfigMaps reads, and into the release Helm keeps; only
// store.url's passwords were refused. Every setting idplug reads as a secret
// (session_keys, vault_keys, api_keys' keys, the OpenID Provider's client
// secrets, and the connectors' settings whose name says secret, as the Logto
// bridge's rule does: clientSecret, appSecret, privateKey...) must be a ${...}
// reference, its default one too; the chart names the setting and says where
// the secret goes.
func TestLiteralSecretsRefused(t *testing.T) {
	const literal = "literal-secret-0123456789abcdef0123456789"
	connector := func(config map[string]any) map[string]any {
		return map[string]any{"connectors": []any{map[string]any{"id": "acme", "plugin": "oauth2", "config": config}}}
	}
	client := func(secret any) map[string]any {
		return map[string]any{"provider": map[string]any{"clients": []any{map[string]any{"id": "app", "secret": secret, "redirect_uris": []any{"https://app.example.com/cb"}}}}}
	}
	for name, tc := range map[string]struct {
		config map[string]any
		want   string
	}{
		"a session key":                {map[string]any{"session_keys": []any{"${file:/etc/idplug/secrets/session-key}", literal}}, "config.session_keys[1]: a secret written as it is"},
		"a vault key":                  {map[string]any{"vault_keys": []any{literal}}, "config.vault_keys[0]: a secret written as it is"},
		"an API key, plain":            {map[string]any{"api_keys": []any{literal}}, "config.api_keys[0]: a secret written as it is"},
		"an API key, scoped":           {map[string]any{"api_keys": []any{map[string]any{"key": literal, "scopes": []any{"signin"}}}}, "config.api_keys[0].key: a secret written as it is"},
		"a provider client's secret":   {client(literal), "config.provider.clients[0].secret: a secret written as it is"},
		"a number as a client secret":  {client(123456789), "config.provider.clients[0].secret: a secret written as it is"},
		"a connector's clientSecret":   {connector(map[string]any{"clientSecret": literal}), "config.connectors[0].config.clientSecret: a secret written as it is"},
		"a connector's privateKey":     {connector(map[string]any{"privateKey": "-----BEGIN PRIVATE KEY-----\nMIG..."}), "config.connectors[0].config.privateKey: a secret written as it is"},
		"WeChat's appSecret":           {connector(map[string]any{"appSecret": literal}), "config.connectors[0].config.appSecret"},
		"another case":                 {connector(map[string]any{"ClientSECRET": literal}), "config.connectors[0].config.ClientSECRET"},
		"a nested setting":             {connector(map[string]any{"customConfig": map[string]any{"api_key": literal}}), "config.connectors[0].config.customConfig.api_key"},
		"a literal default":            {map[string]any{"session_keys": []any{"${SESSION_KEY:-" + literal + "}"}}, "config.session_keys[0]: a secret written as it is"},
		"text around a reference":      {map[string]any{"session_keys": []any{"prefix-${SESSION_KEY}"}}, "config.session_keys[0]"},
		"an escaped reference ($$)":    {map[string]any{"session_keys": []any{"$${SESSION_KEY}-0123456789abcdef0123456789"}}, "config.session_keys[0]"},
		"a reference's default nested": {map[string]any{"session_keys": []any{"${A:-${B:-" + literal + "}}"}}, "config.session_keys[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			config := map[string]any{"session_keys": []any{"${file:/etc/idplug/secrets/session-key}"}, "api_keys": []any{"${file:/etc/idplug/secrets/api-key}"}}
			for k, v := range tc.config {
				config[k] = v
			}
			refused(t, withSecret(map[string]any{"config": config}), tc.want)
			refused(t, withSecret(map[string]any{"config": config}), "which the chart would write into the ConfigMap")
			// The same in configYaml, as the chart reads it.
			text, err := yaml.Marshal(config)
			must(t, err)
			refused(t, withSecret(map[string]any{"config": nil, "configYaml": string(text)}), "configYaml"+strings.TrimPrefix(tc.want, "config"))
		})
	}
	refused(t, withSecret(map[string]any{"config": map[string]any{"session_keys": []any{literal}, "api_keys": []any{"${file:/etc/idplug/secrets/api-key}"}}}),
		`config.session_keys[0]: a secret written as it is, which the chart would write into the ConfigMap (readable by whoever may read ConfigMaps, and kept in the release); `+
			`put it in a file of secrets.files (or of existingSecret) and write ${file:/etc/idplug/secrets/NAME}, or read it from the environment with ${VAR}`)

	// References, and the settings whose names only mention a secret.
	ok := map[string]any{
		"session_keys": []any{"${file:/etc/idplug/secrets/session-key}", "${IDPLUG_SESSION_KEY}", "${OLD_KEY:-${file:/etc/idplug/secrets/old-key}}"},
		"vault_keys":   []any{"${file:/etc/idplug/secrets/vault-key}"},
		"api_keys":     []any{"${file:/etc/idplug/secrets/api-key}", map[string]any{"key": "${ADMIN_KEY}", "scopes": []any{"admin"}}},
		"provider": map[string]any{"clients": []any{
			map[string]any{"id": "app", "secret": "${file:/etc/idplug/secrets/app-secret}", "redirect_uris": []any{"https://app.example.com/cb"}},
			map[string]any{"id": "spa", "public": true, "redirect_uris": []any{"https://spa.example.com/cb"}},
		}},
		"connectors": []any{map[string]any{"id": "acme", "plugin": "oauth2", "config": map[string]any{
			"clientId": "acme-app", "clientSecret": "${file:/etc/idplug/secrets/acme}", "privateKey": "",
			"privateKeyId": "kid-1", "clientSecretJwtSigningAlgorithm": "HS256", "privateKeySigningAlgorithm": "RS256",
			"tokenEndpointAuthMethod": "client_secret_basic", "storeTokens": true, "secretSwitch": false,
		}}},
	}
	mustRender(t, withSecret(map[string]any{"config": ok}))
	text, err := yaml.Marshal(ok)
	must(t, err)
	mustRender(t, withSecret(map[string]any{"config": nil, "configYaml": string(text)}))
}

// A secret file is bytes: a vault key made with head -c 32 /dev/urandom is not
// UTF-8. Written as stringData through quote, its invalid bytes came out as
// other characters (0xff as U+00FF, two bytes); as data, base64, every byte
// stays.
func TestBinarySecretFiles(t *testing.T) {
	// Text keeps every byte, control characters included.
	key := "\x00\x01\x7f" + strings.Repeat("k", 29)
	r := mustRender(t, map[string]any{"secrets": map[string]any{"files": map[string]any{
		"session-key": "a-session-key-0123456789abcdef0123456789",
		"api-key":     "an-api-key-0123456789abcdef0123456789",
		"vault-key":   key,
	}}})
	if len(r.Secrets) != 1 {
		t.Fatalf("%d Secrets", len(r.Secrets))
	}
	if got := secretFiles(r.Secrets[0])["vault-key"]; !bytes.Equal(got, []byte(key)) {
		t.Errorf("the vault-key file holds % x, want % x", got, key)
	}
	if len(r.Secrets[0].StringData) != 0 {
		t.Errorf("stringData %v: want every file in data", r.Secrets[0].StringData)
	}
	// Bytes that are not UTF-8 (a key from head -c 32 /dev/urandom) would
	// render right once, then change at the next helm upgrade --reuse-values:
	// Helm keeps the values as JSON, which turns them into U+FFFD.
	binary := "\xff\xfe\x80\x00" + strings.Repeat("\x01", 28)
	_, err := render(t, map[string]any{"secrets": map[string]any{"files": map[string]any{
		"session-key": "a-session-key-0123456789abcdef0123456789",
		"api-key":     "an-api-key-0123456789abcdef0123456789",
		"vault-key":   binary,
	}}})
	if err == nil || !strings.Contains(err.Error(), "secrets.files.vault-key: holds bytes that are not UTF-8 text") {
		t.Fatalf("a binary secret file: %v", err)
	}
}

// A secret setting may read ${VAR}, but env must then take VAR from a Secret
// (valueFrom): with a value, the chart had written the secret into the
// Deployment's idplug and migrate containers, readable by whoever may read
// Deployments or Pods, and kept in the release. A variable that only other
// settings read may have a value.
func TestEnvValueForASecretRefused(t *testing.T) {
	config := func(secret string) map[string]any {
		return map[string]any{
			"session_keys": []any{"${file:/etc/idplug/secrets/session-key}"},
			"api_keys":     []any{"${file:/etc/idplug/secrets/api-key}"},
			"public_url":   "${PUBLIC_URL}",
			"connectors": []any{map[string]any{"id": "acme", "plugin": "oauth2", "config": map[string]any{
				"clientId": "acme-app", "clientSecret": secret,
			}}},
		}
	}
	literal := map[string]any{"name": "ACME_CLIENT_SECRET", "value": "literal-client-secret-0123456789abcdef"}
	fromSecret := map[string]any{"name": "ACME_CLIENT_SECRET", "valueFrom": map[string]any{
		"secretKeyRef": map[string]any{"name": "acme", "key": "client-secret"}}}
	publicURL := map[string]any{"name": "PUBLIC_URL", "value": "https://idp.example.com"}
	for _, secret := range []string{"${ACME_CLIENT_SECRET}", "${UNSET:-${ACME_CLIENT_SECRET}}"} {
		refused(t, withSecret(map[string]any{"config": config(secret), "env": []any{literal, publicURL}}),
			"config.connectors[0].config.clientSecret: reads ${ACME_CLIENT_SECRET}, which env sets with a value")
	}
	// Kubernetes' $(NAME): as literal as what it names.
	derived := func(name string) map[string]any {
		return map[string]any{"name": "ACME_CLIENT_SECRET", "value": "$(" + name + ")"}
	}
	refused(t, withSecret(map[string]any{"config": config("${ACME_CLIENT_SECRET}"), "env": []any{
		map[string]any{"name": "RAW", "value": "literal-client-secret-0123456789abcdef"}, derived("RAW"), publicURL}}),
		"reads ${ACME_CLIENT_SECRET}, which env sets with a value")
	mustRender(t, withSecret(map[string]any{"config": config("${ACME_CLIENT_SECRET}"), "env": []any{
		map[string]any{"name": "FROM_SECRET", "valueFrom": fromSecret["valueFrom"]}, derived("FROM_SECRET"), publicURL}}))
	r := mustRender(t, withSecret(map[string]any{"config": config("${ACME_CLIENT_SECRET}"), "env": []any{fromSecret, publicURL}}))
	for _, d := range r.Deployments {
		for _, c := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
			for _, e := range c.Env {
				if e.Name == "ACME_CLIENT_SECRET" && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("container %s: env %s is not taken from the Secret: %+v", c.Name, e.Name, e)
				}
			}
		}
	}
}
