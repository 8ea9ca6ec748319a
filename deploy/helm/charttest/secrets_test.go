package charttest

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
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
	s := r.Secrets[0]
	for k, v := range files {
		if s.StringData[k] != v {
			t.Errorf("secrets.files[%q] is %q in the Secret", k, s.StringData[k])
		}
	}
	for k := range s.StringData {
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
