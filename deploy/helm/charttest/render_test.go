package charttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var chartDir = filepath.Join("..", "idplug")

// rendered is the chart's objects for one value set, each decoded strictly.
type rendered struct {
	ConfigMaps     []corev1.ConfigMap
	Secrets        []corev1.Secret
	Services       []corev1.Service
	Claims         []corev1.PersistentVolumeClaim
	Deployments    []appsv1.Deployment
	Jobs           []batchv1.Job
	PDBs           []policyv1.PodDisruptionBudget
	HPAs           []autoscalingv2.HorizontalPodAutoscaler
	NetPolicies    []networkingv1.NetworkPolicy
	ServiceMonitor []serviceMonitor
	// Notes is NOTES.txt as helm install prints it.
	Notes string
	// Manifests are the objects as rendered, before decoding.
	Manifests []releaseutil.Manifest
}

// serviceMonitor is the part of the Prometheus operator's ServiceMonitor the
// chart writes (its type is not in k8s.io/api); decoded strictly all the same.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// render does what `helm template` does (Helm's install in client-only dry-run
// mode) with the values, and decodes every object.
func render(t *testing.T, values map[string]any) (*rendered, error) {
	t.Helper()
	return renderRelease(t, "idp", values)
}

// kubeVersion is the cluster version the chart is rendered and linted for.
var kubeVersion = &chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}

// renderRelease is render with a release name of the test's choosing.
func renderRelease(t *testing.T, release string, values map[string]any) (*rendered, error) {
	t.Helper()
	return renderWith(t, renderOptions{Release: release}, values)
}

// renderOptions are what a render takes besides the values: the release's
// name ("idp" when empty) and revision (1 when 0), and the cluster's version
// (kubeVersion when nil).
type renderOptions struct {
	Release  string
	Revision int
	Kube     *chartutil.KubeVersion
}

// renderWith renders the chart as renderManifests does and decodes every object
// strictly: no duplicate key in a mapping, no unknown field, no trailing data.
func renderWith(t *testing.T, o renderOptions, values map[string]any) (*rendered, error) {
	t.Helper()
	notes, manifests, err := renderManifests(t, o, values)
	if err != nil {
		return nil, err
	}
	out := &rendered{Notes: notes, Manifests: manifests}
	for _, m := range manifests {
		if err := out.add([]byte(m.Content)); err != nil {
			t.Fatalf("%v in %s:\n%s", err, m.Name, m.Content)
		}
	}
	return out, nil
}

// renderManifests takes the steps of Helm's client-only install, from its
// template engine on, without Helm's action package: that package brings
// Kubernetes' client, kubectl's code and the registry clients, and compiling
// them was most of this module's build. The steps: the chart's kubeVersion
// range, its dependencies, the values (coalesced with values.yaml, checked
// against a schema if the chart has one), the engine, NOTES.txt set aside, and
// the manifests sorted in Helm's install order, as text: not decoded.
func renderManifests(t *testing.T, o renderOptions, values map[string]any) (string, []releaseutil.Manifest, error) {
	t.Helper()
	if o.Release == "" {
		o.Release = "idp"
	}
	if o.Revision == 0 {
		o.Revision = 1
	}
	if o.Kube == nil {
		o.Kube = kubeVersion
	}
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *o.Kube
	if r := ch.Metadata.KubeVersion; r != "" && !chartutil.IsCompatibleRange(r, caps.KubeVersion.String()) {
		return "", nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", r, caps.KubeVersion.String())
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, values); err != nil {
		return "", nil, err
	}
	opts := chartutil.ReleaseOptions{Name: o.Release, Namespace: "auth", Revision: o.Revision, IsInstall: o.Revision == 1, IsUpgrade: o.Revision > 1}
	vals, err := chartutil.ToRenderValues(ch, values, opts, caps)
	if err != nil {
		return "", nil, err
	}
	files, err := new(engine.Engine).Render(ch, vals)
	if err != nil {
		return "", nil, err
	}
	var notes string
	for name, text := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			notes = text
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return "", nil, err
	}
	if len(hooks) > 0 {
		t.Fatalf("the chart has %d hooks; render takes manifests only", len(hooks))
	}
	return notes, manifests, nil
}

func (r *rendered) add(doc []byte) error {
	raw, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	var meta metav1.TypeMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return err
	}
	switch meta.APIVersion + " " + meta.Kind {
	case "v1 ConfigMap":
		return appendStrict(raw, &r.ConfigMaps)
	case "v1 Secret":
		return appendStrict(raw, &r.Secrets)
	case "v1 Service":
		return appendStrict(raw, &r.Services)
	case "v1 PersistentVolumeClaim":
		return appendStrict(raw, &r.Claims)
	case "apps/v1 Deployment":
		return appendStrict(raw, &r.Deployments)
	case "batch/v1 Job":
		return appendStrict(raw, &r.Jobs)
	case "policy/v1 PodDisruptionBudget":
		return appendStrict(raw, &r.PDBs)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return appendStrict(raw, &r.HPAs)
	case "networking.k8s.io/v1 NetworkPolicy":
		return appendStrict(raw, &r.NetPolicies)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return appendStrict(raw, &r.ServiceMonitor)
	}
	return fmt.Errorf("an object of an unexpected kind %s %s", meta.APIVersion, meta.Kind)
}

// appendStrict decodes raw into a new element of list, refusing unknown fields
// and trailing data.
func appendStrict[T any](raw []byte, list *[]T) error {
	var v T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("decoding strictly into %T: %w", v, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("trailing data after the %T", v)
	}
	*list = append(*list, v)
	return nil
}

func TestLint(t *testing.T) {
	for name, values := range valueSets() {
		t.Run(name, func(t *testing.T) {
			// `helm lint --strict`: a warning fails as an error does.
			res := lint.AllWithKubeVersion(chartDir, values, "auth", kubeVersion)
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m.Error())
				} else {
					t.Logf("helm lint: %s", m.Error())
				}
			}
		})
	}
}

// valueSets are the value sets every check renders.
func valueSets() map[string]map[string]any {
	return map[string]map[string]any{
		// values.yaml's config reads the session-key and api-key files.
		"defaults": {
			"secrets": map[string]any{"files": map[string]any{
				"session-key": "a-session-key-0123456789abcdef0123456789",
				"api-key":     "an-api-key-0123456789abcdef0123456789",
			}},
		},
		"postgres, three replicas, every option": {
			"replicaCount":        3,
			"store":               map[string]any{"backend": "postgres", "url": "${file:/etc/idplug/secrets/store-url}"},
			"secrets":             map[string]any{"existingSecret": "idplug-secrets"},
			"migrate":             map[string]any{"mode": "job"},
			"podDisruptionBudget": map[string]any{"enabled": true},
			"serviceMonitor":      map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}},
			"resources":           map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}},
			"image":               map[string]any{"tag": "1.4.0", "digest": "sha256:" + strings.Repeat("0123456789abcdef", 4)},
			"imagePullSecrets":    []map[string]any{{"name": "registry"}},
			"nodeSelector":        map[string]any{"pool": "auth"},
			"networkPolicy": map[string]any{"enabled": true,
				"adminFrom":   []map[string]any{{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}},
				"extraEgress": []map[string]any{{"to": []map[string]any{{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "postgres"}}}}, "ports": []map[string]any{{"port": 5432, "protocol": "TCP"}}}},
			},
		},
		"postgres, autoscaled": {
			"store":               map[string]any{"backend": "postgres", "url": "${file:/etc/idplug/secrets/store-url}"},
			"secrets":             map[string]any{"existingSecret": "idplug-secrets"},
			"autoscaling":         map[string]any{"enabled": true, "minReplicas": 2, "maxReplicas": 5},
			"podDisruptionBudget": map[string]any{"enabled": true, "maxUnavailable": 1},
			"resources":           map[string]any{"requests": map[string]any{"cpu": "100m"}},
		},
		"sqlite on an existing claim, logto image": {
			"image":       map[string]any{"repository": "idplug-logto"},
			"persistence": map[string]any{"existingClaim": "idplug-data"},
			"secrets":     map[string]any{"existingSecret": "idplug-secrets"},
		},
	}
}

func TestTemplate(t *testing.T) {
	for name, values := range valueSets() {
		t.Run(name, func(t *testing.T) {
			r, err := render(t, values)
			if err != nil {
				t.Fatalf("helm template: %v", err)
			}
			if len(r.Deployments) != 1 || len(r.ConfigMaps) != 1 {
				t.Fatalf("want one Deployment and ConfigMap: %+v", r)
			}
			svc := mainService(t, r)
			d := r.Deployments[0]
			checkPod(t, "the Deployment", d.Spec.Template.Spec)
			pg := strings.HasPrefix(name, "postgres")
			switch {
			case pg && len(r.Claims) != 0:
				t.Error("a PersistentVolumeClaim with PostgreSQL")
			case !pg && d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType:
				t.Errorf("SQLite: the strategy is %q, want Recreate (one process owns the file)", d.Spec.Strategy.Type)
			}
			c := d.Spec.Template.Spec.Containers[0]
			// On the admin port, which serves them at its root: under a
			// public_url with a path (https://example.com/idp) the main
			// listener answers /healthz with 404, and the pod never started.
			for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				want := "/healthz"
				if name == "readiness" {
					// A plugin fails on every replica at once: it is not
					// a replica's readiness.
					want = "/readyz?exclude=plugins"
				}
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "admin" {
					t.Errorf("%s probe %+v; want GET %s on port admin", name, p, want)
				}
			}
			config := configFile(r)
			var owned struct {
				Listen      string `json:"listen"`
				AdminListen string `json:"admin_listen"`
				PluginDir   string `json:"plugin_dir"`
				Store       struct {
					URL string `json:"url"`
				} `json:"store"`
			}
			if err := yaml.Unmarshal([]byte(config), &owned); err != nil {
				t.Fatalf("idplug.yaml: %v\n%s", err, config)
			}
			if owned.PluginDir != "/plugins" || owned.Listen != "0.0.0.0:8080" || owned.AdminListen != "0.0.0.0:9100" ||
				pg == strings.HasPrefix(owned.Store.URL, "sqlite:") {
				t.Errorf("idplug.yaml lacks what the chart owns: %+v\n%s", owned, config)
			}
			for _, j := range r.Jobs {
				checkPod(t, "the migrate Job", j.Spec.Template.Spec)
				if got := j.Spec.Template.Spec.Containers[0].Args; len(got) == 0 || got[0] != "migrate" {
					t.Errorf("the Job runs %v, want idplug migrate", got)
				}
				matches := true
				for k, v := range svc.Spec.Selector {
					matches = matches && j.Spec.Template.Labels[k] == v
				}
				if matches {
					t.Error("the migrate Job's pod matches the Service's selector")
				}
			}
			if values["migrate"] == nil {
				if ic := d.Spec.Template.Spec.InitContainers; len(ic) != 1 || ic[0].Args[0] != "migrate" {
					t.Errorf("want the migrate init container: %+v", ic)
				}
			}
			if _, hpa := values["autoscaling"]; hpa != (len(r.HPAs) == 1) || hpa != (d.Spec.Replicas == nil) {
				t.Errorf("autoscaling %v: %d HPAs, replicas %v", hpa, len(r.HPAs), d.Spec.Replicas)
			}
			// The notes tell the replicas the chart asked for.
			var wantReplicas string
			if hpa := r.HPAs; len(hpa) == 1 {
				wantReplicas = fmt.Sprintf("%d to %d replicas (autoscaling)", *hpa[0].Spec.MinReplicas, hpa[0].Spec.MaxReplicas)
			} else {
				wantReplicas = fmt.Sprintf("%d replica(s)", *d.Spec.Replicas)
			}
			if !strings.HasPrefix(r.Notes, "idplug is starting: "+wantReplicas+",") {
				t.Errorf("the notes do not say %q:\n%s", wantReplicas, r.Notes)
			}
			if _, pdb := values["podDisruptionBudget"]; pdb != (len(r.PDBs) == 1) {
				t.Errorf("podDisruptionBudget %v: %d PDBs", pdb, len(r.PDBs))
			}
			if _, sm := values["serviceMonitor"]; sm != (len(r.ServiceMonitor) == 1) || len(r.Services) != map[bool]int{false: 1, true: 2}[sm] {
				t.Errorf("serviceMonitor %v: %d ServiceMonitors, %d Services", sm, len(r.ServiceMonitor), len(r.Services))
			}
			// One for the Deployment's pods, one for the migrate Job's.
			if _, np := values["networkPolicy"]; np != (len(r.NetPolicies) == 1+len(r.Jobs)) {
				t.Errorf("networkPolicy %v: %d NetworkPolicies, %d Jobs", np, len(r.NetPolicies), len(r.Jobs))
			}
		})
	}
}

// checkPod: non-root, read-only root, no privilege escalation, RuntimeDefault
// seccomp, for the pod and each of its containers.
func checkPod(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil ||
		psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v", what, psc)
	}
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: container %s securityContext %+v", what, c.Name, sc)
		}
	}
}

// TestRefused: value sets the chart must refuse, each with a message naming the value.
func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"SQLite with three replicas", map[string]any{"replicaCount": 3}, "replicaCount: 3 replicas cannot share SQLite"},
		{"SQLite autoscaled", map[string]any{"autoscaling": map[string]any{"enabled": true}}, "autoscaling.enabled"},
		{"SQLite with a migrate Job", map[string]any{"migrate": map[string]any{"mode": "job"}}, "migrate.mode: job needs store.backend: postgres"},
		{"postgres without a URL", map[string]any{"store": map[string]any{"backend": "postgres"}}, "store.url: required"},
		{"an unknown backend", map[string]any{"store": map[string]any{"backend": "mysql"}}, `store.backend: "mysql"`},
		{"listen set in config", map[string]any{"config": map[string]any{"listen": "0.0.0.0:1"}}, "config.listen: set by the chart"},
		// An emptyDir is writable by every user: idplug refuses it for SQLite.
		{"SQLite without persistence", withSecret(map[string]any{"persistence": map[string]any{"enabled": false}}), "store.backend sqlite needs persistence.enabled"},
		// A ConfigMap is readable by more people than the Secrets are.
		{"a password in store.url", map[string]any{"replicaCount": 2, "store": map[string]any{"backend": "postgres", "url": "postgres://idplug:S3cret@db:5432/idplug"}}, "store.url: holds a password"},
		{"a password parameter in store.url", map[string]any{"store": map[string]any{"backend": "postgres", "url": "postgres://db/idplug?user=idplug&password=S3cret"}}, "store.url: holds a password"},
		// One replica's file under three.
		{"a SQLite URL for postgres", map[string]any{"replicaCount": 3, "store": map[string]any{"backend": "postgres", "url": "sqlite:/data/idplug.db"}}, "store.url: with store.backend: postgres, a postgres:// URL"},
		// Helm writes numbers its own way: 1.2345678901234568e+22, 0123 as 83.
		{"a number as a secret file", map[string]any{"secrets": map[string]any{"files": map[string]any{"session-key": "k", "api-key": 12345678901234567890.0}}}, "secrets.files.api-key: a float64, not a string"},
		{"a secret file named ..data", map[string]any{"secrets": map[string]any{"files": map[string]any{"session-key": "k", "api-key": "k", "..data": "x"}}}, `"..data" is not a valid file name`},
		{"a number as the image tag", withSecret(map[string]any{"image": map[string]any{"tag": 1.10}}), "image.tag: 1.1 is a float64"},
		{"one port for both listeners", withSecret(map[string]any{"ports": map[string]any{"http": 9100, "admin": 9100}}), "ports.http and ports.admin: both 9100"},
		{"port 0", withSecret(map[string]any{"ports": map[string]any{"http": 0}}), "ports.http: 0 is not a port"},
		{"a port past 65535", withSecret(map[string]any{"ports": map[string]any{"admin": 70000}}), "ports.admin: 70000 is not a port"},
		// The kubelet makes the volume writable by fsGroup, which idplug refuses
		// for its database unless it is its own group.
		{"fsGroup other than idplug's group", withSecret(map[string]any{"podSecurityContext": map[string]any{"fsGroup": 2000}}), "podSecurityContext.fsGroup: 2000, but idplug runs as group 65532"},
		// The volumes stay root's: mode 0440 secrets idplug cannot read.
		{"no fsGroup", withSecret(map[string]any{"podSecurityContext": map[string]any{"fsGroup": nil}}), "podSecurityContext.fsGroup: not set"},
		{"a ServiceMonitor the NetworkPolicy keeps out", withSecret(map[string]any{"serviceMonitor": map[string]any{"enabled": true}, "networkPolicy": map[string]any{"enabled": true}}), "networkPolicy.adminFrom: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// mainService is the Service of the API (the one named as the release's objects).
func mainService(t *testing.T, r *rendered) corev1.Service {
	t.Helper()
	for _, s := range r.Services {
		if s.Name == r.Deployments[0].Name {
			return s
		}
	}
	t.Fatalf("no Service named %s: %+v", r.Deployments[0].Name, r.Services)
	return corev1.Service{}
}

// mustRender renders values and fails the test on an error.
func mustRender(t *testing.T, values map[string]any) *rendered {
	t.Helper()
	r, err := render(t, values)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return r
}

// refused checks that the chart refuses values with a message holding want.
func refused(t *testing.T, values map[string]any, want string) {
	t.Helper()
	_, err := render(t, values)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error with %q", err, want)
	}
}

// withSecret is values with an existing Secret mounted at /etc/idplug/secrets.
func withSecret(values map[string]any) map[string]any {
	values["secrets"] = map[string]any{"existingSecret": "idplug-secrets"}
	return values
}

var postgres = map[string]any{"backend": "postgres", "url": "${file:/etc/idplug/secrets/store-url}"}

// mustRenderRelease is mustRender with a release name of the test's choosing.
func mustRenderRelease(t *testing.T, release string, values map[string]any) *rendered {
	t.Helper()
	r, err := renderRelease(t, release, values)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return r
}

// configFile is idplug.yaml as the pod reads it, from the ConfigMap's data or
// binaryData (the kubelet writes either as the file's bytes).
func configFile(r *rendered) string {
	return string(configMapFiles(r.ConfigMaps[0])["idplug.yaml"])
}

// configMapFiles are the files a ConfigMap volume holds: its data and binaryData.
func configMapFiles(cm corev1.ConfigMap) map[string][]byte {
	files := map[string][]byte{}
	for k, v := range cm.Data {
		files[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		files[k] = v
	}
	return files
}

// secretFiles are the files a Secret volume holds: its data, and stringData
// (which the API server merges into data, over it).
func secretFiles(s corev1.Secret) map[string][]byte {
	files := map[string][]byte{}
	for k, v := range s.Data {
		files[k] = v
	}
	for k, v := range s.StringData {
		files[k] = []byte(v)
	}
	return files
}
