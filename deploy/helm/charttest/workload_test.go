package charttest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// resources applies to the migrate init container too (a namespace with a compute
// ResourceQuota, or a policy requiring limits, refuses a pod with a container
// without them), or migrate.resources when set.
func TestInitContainerResources(t *testing.T) {
	res := map[string]any{
		"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
		"limits":   map[string]any{"cpu": "1", "memory": "256Mi"},
	}
	r := mustRender(t, withSecret(map[string]any{"resources": res}))
	pod := r.Deployments[0].Spec.Template.Spec
	if len(pod.InitContainers) != 1 {
		t.Fatalf("%d init containers", len(pod.InitContainers))
	}
	if ic, c := pod.InitContainers[0].Resources, pod.Containers[0].Resources; c.Limits.Memory().IsZero() || !reflect.DeepEqual(ic, c) {
		t.Errorf("init container resources %+v, idplug's %+v: want the same", ic, c)
	}

	r = mustRender(t, withSecret(map[string]any{"resources": res,
		"migrate": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "64Mi"}}}}))
	pod = r.Deployments[0].Spec.Template.Spec
	if m := pod.InitContainers[0].Resources.Limits.Memory().String(); m != "64Mi" || pod.Containers[0].Resources.Limits.Memory().String() != "256Mi" {
		t.Errorf("migrate.resources: init container memory limit %s, idplug's %s", m, pod.Containers[0].Resources.Limits.Memory())
	}
}

// The migrate Job's pod takes the Deployment's pod settings: from a private
// registry it must pull, and it must be admitted and scheduled where the
// Deployment's pods are.
func TestMigrateJobPodLikeTheDeployment(t *testing.T) {
	r := mustRender(t, withSecret(map[string]any{
		"store":            postgres,
		"migrate":          map[string]any{"mode": "job"},
		"imagePullSecrets": []map[string]any{{"name": "registry"}},
		"resources":        map[string]any{"limits": map[string]any{"cpu": "1", "memory": "256Mi"}},
		"nodeSelector":     map[string]any{"pool": "auth"},
		"tolerations":      []map[string]any{{"key": "dedicated", "operator": "Equal", "value": "auth", "effect": "NoSchedule"}},
		"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"a"}}}}}}}},
		"podSecurityContext": map[string]any{"runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 1000, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
		"podLabels":          map[string]any{"team": "auth"},
	}))
	if len(r.Jobs) != 1 {
		t.Fatalf("%d Jobs", len(r.Jobs))
	}
	dep, job := r.Deployments[0].Spec.Template, r.Jobs[0].Spec.Template
	for _, f := range []struct {
		name     string
		dep, job any
	}{
		{"imagePullSecrets", dep.Spec.ImagePullSecrets, job.Spec.ImagePullSecrets},
		{"nodeSelector", dep.Spec.NodeSelector, job.Spec.NodeSelector},
		{"tolerations", dep.Spec.Tolerations, job.Spec.Tolerations},
		{"affinity", dep.Spec.Affinity, job.Spec.Affinity},
		{"securityContext", dep.Spec.SecurityContext, job.Spec.SecurityContext},
		{"automountServiceAccountToken", dep.Spec.AutomountServiceAccountToken, job.Spec.AutomountServiceAccountToken},
		{"resources", dep.Spec.Containers[0].Resources, job.Spec.Containers[0].Resources},
		{"podLabels", dep.Labels["team"], job.Labels["team"]},
	} {
		if reflect.ValueOf(f.dep).IsZero() || !reflect.DeepEqual(f.dep, f.job) {
			t.Errorf("%s: the Deployment's pod has %+v, the migrate Job's %+v", f.name, f.dep, f.job)
		}
	}
	if job.Labels["app.kubernetes.io/name"] == dep.Labels["app.kubernetes.io/name"] {
		t.Errorf("the Job's pod has the Deployment's selector labels: %v", job.Labels)
	}
}

// A PodDisruptionBudget that lets no pod be evicted (minAvailable not below the
// minimum replica count, or maxUnavailable 0) blocks every node drain (cluster
// upgrade, autoscaler scale-down): the chart refuses it.
func TestPDBAllowsADisruption(t *testing.T) {
	pdb := func(v map[string]any) map[string]any { v["enabled"] = true; return v }
	for name, tc := range map[string]struct {
		values map[string]any
		want   string
	}{
		"sqlite (one replica)": {map[string]any{"podDisruptionBudget": pdb(map[string]any{})},
			"podDisruptionBudget: minAvailable 1 with 1 replica(s) (replicaCount) lets no pod be evicted"},
		"postgres, one replica": {map[string]any{"podDisruptionBudget": pdb(map[string]any{}), "store": postgres},
			"podDisruptionBudget: minAvailable 1 with 1 replica(s) (replicaCount)"},
		"postgres, HPA min of 1": {map[string]any{"podDisruptionBudget": pdb(map[string]any{}), "store": postgres,
			"autoscaling": map[string]any{"enabled": true, "minReplicas": 1}, "resources": map[string]any{"requests": map[string]any{"cpu": "100m"}}},
			"podDisruptionBudget: minAvailable 1 with 1 replica(s) (autoscaling.minReplicas)"},
		"postgres, minAvailable 3 of 3": {map[string]any{"podDisruptionBudget": pdb(map[string]any{"minAvailable": 3}), "store": postgres, "replicaCount": 3},
			"minAvailable 3 with 3 replica(s)"},
		"postgres, minAvailable 50% of 1": {map[string]any{"podDisruptionBudget": pdb(map[string]any{"minAvailable": "50%"}), "store": postgres},
			"minAvailable 50% with 1 replica(s)"},
		"maxUnavailable 0": {map[string]any{"podDisruptionBudget": pdb(map[string]any{"maxUnavailable": 0}), "store": postgres, "replicaCount": 3},
			"podDisruptionBudget.maxUnavailable: 0 lets no pod be evicted"},
	} {
		t.Run(name, func(t *testing.T) { refused(t, withSecret(tc.values), tc.want) })
	}
	for name, values := range map[string]map[string]any{
		"postgres, minAvailable 1 of 2":   {"podDisruptionBudget": pdb(map[string]any{}), "store": postgres, "replicaCount": 2},
		"postgres, minAvailable 50% of 3": {"podDisruptionBudget": pdb(map[string]any{"minAvailable": "50%"}), "store": postgres, "replicaCount": 3},
		"sqlite, maxUnavailable 1":        {"podDisruptionBudget": pdb(map[string]any{"maxUnavailable": 1})},
	} {
		t.Run(name, func(t *testing.T) {
			if r := mustRender(t, withSecret(values)); len(r.PDBs) != 1 {
				t.Errorf("%d PDBs", len(r.PDBs))
			}
		})
	}
}

// The HorizontalPodAutoscaler scales on CPU utilization, a percentage of the
// pods' CPU request: without one it reports FailedGetResourceMetric and never
// scales, so the chart refuses it.
func TestHPANeedsACPURequest(t *testing.T) {
	hpa := map[string]any{"enabled": true}
	refused(t, withSecret(map[string]any{"store": postgres, "autoscaling": hpa}),
		"autoscaling.enabled: the HorizontalPodAutoscaler scales on CPU utilization, a percentage of the pods' CPU request, and resources.requests.cpu is not set")
	refused(t, withSecret(map[string]any{"store": postgres, "autoscaling": hpa,
		"resources": map[string]any{"limits": map[string]any{"cpu": "1"}}}), "resources.requests.cpu is not set")
	r := mustRender(t, withSecret(map[string]any{"store": postgres, "autoscaling": hpa,
		"resources": map[string]any{"requests": map[string]any{"cpu": "100m"}}}))
	if len(r.HPAs) != 1 || r.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().IsZero() {
		t.Errorf("%d HPAs, resources %+v", len(r.HPAs), r.Deployments[0].Spec.Template.Spec.Containers[0].Resources)
	}
}

// The migrate Job's name is a label of its pods (job-name): with the longest
// release name Helm takes, it still fits in 63 characters, revision included.
func TestJobNameFitsALabel(t *testing.T) {
	for _, release := range []string{strings.Repeat("a", 53), strings.Repeat("a", 46) + "-idplug", "idp"} {
		r := mustRenderRelease(t, release, withSecret(map[string]any{"store": postgres, "migrate": map[string]any{"mode": "job"}}))
		if len(r.Jobs) != 1 {
			t.Fatalf("%d Jobs", len(r.Jobs))
		}
		name := r.Jobs[0].Name
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			t.Errorf("release %s: Job name %q (%d characters): %v", release, name, len(name), errs)
		}
		if !strings.HasSuffix(name, "-migrate-1") || !strings.HasPrefix(name, release[:min(len(release), 40)]) {
			t.Errorf("release %s: Job name %q", release, name)
		}
	}
}

// image.digest pins the image (repository@digest); the app.kubernetes.io/version
// label stays a valid label value: the tag, never the digest. A tag written with
// its digest (tag@sha256:...) also keeps the labels valid.
func TestImagePinnedByDigest(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	for name, tc := range map[string]struct {
		image               map[string]any
		wantImage, wantVers string
	}{
		"digest and tag":    {map[string]any{"tag": "1.4.0", "digest": digest}, "idplug@" + digest, "1.4.0"},
		"digest, no tag":    {map[string]any{"tag": "", "digest": digest}, "idplug@" + digest, "latest"},
		"tag with a digest": {map[string]any{"tag": "1.4.0@" + digest}, "idplug:1.4.0@" + digest, "1.4.0"},
		"tag":               {map[string]any{"tag": "1.4.0"}, "idplug:1.4.0", "1.4.0"},
	} {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, withSecret(map[string]any{"image": tc.image, "store": postgres, "migrate": map[string]any{"mode": "job"}}))
			objects := map[string]metav1.ObjectMeta{
				"Deployment": r.Deployments[0].ObjectMeta, "Service": r.Services[0].ObjectMeta,
				"ConfigMap": r.ConfigMaps[0].ObjectMeta, "Job": r.Jobs[0].ObjectMeta,
			}
			for kind, m := range objects {
				if errs := metavalidation.ValidateLabels(m.Labels, field.NewPath(kind, "metadata", "labels")); len(errs) > 0 {
					t.Errorf("%s: %v", kind, errs.ToAggregate())
				}
				if v := m.Labels["app.kubernetes.io/version"]; v != tc.wantVers {
					t.Errorf("%s: version label %q, want %q", kind, v, tc.wantVers)
				}
			}
			for _, c := range []corev1.Container{r.Deployments[0].Spec.Template.Spec.Containers[0], r.Jobs[0].Spec.Template.Spec.Containers[0]} {
				if c.Image != tc.wantImage {
					t.Errorf("container %s runs %q, want %q", c.Name, c.Image, tc.wantImage)
				}
			}
		})
	}
	refused(t, withSecret(map[string]any{"image": map[string]any{"digest": "1.4.0"}}), `image.digest: "1.4.0" is not a digest`)
}

// idplug finishes the requests in flight for up to 30 s after SIGTERM, then stops
// its plugins and, with SQLite, saves the consumed flows: the grace period leaves
// it time for that. No preStop hook: the image has no shell and no sleep.
func TestTerminationGrace(t *testing.T) {
	pod := mustRender(t, withSecret(map[string]any{})).Deployments[0].Spec.Template.Spec
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 40 {
		t.Errorf("terminationGracePeriodSeconds %s, want 40 (idplug's own drain is 30 s, then its plugins and the store)", ptrString(g))
	}
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		if c.Lifecycle != nil {
			t.Errorf("container %s has a lifecycle hook %+v: the image has no shell to run it", c.Name, c.Lifecycle)
		}
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// The SQLite claim holds the store (sessions, the vault, the OpenID Provider's
// signing keys): helm uninstall deleted it with the release. It is kept unless
// persistence.keep is false. And "-" is the usual way to say "no class", which
// had rendered as a YAML sequence the API server refused.
func TestSQLiteClaimIsKeptAndItsClass(t *testing.T) {
	r := mustRender(t, withSecret(map[string]any{}))
	if len(r.Claims) != 1 || r.Claims[0].Annotations["helm.sh/resource-policy"] != "keep" {
		t.Fatalf("claims %+v; want one annotated helm.sh/resource-policy: keep", r.Claims)
	}
	r = mustRender(t, withSecret(map[string]any{"persistence": map[string]any{"keep": false, "storageClass": "-"}}))
	if len(r.Claims) != 1 || r.Claims[0].Annotations["helm.sh/resource-policy"] != "" {
		t.Fatalf("keep: false, claims %+v", r.Claims)
	}
	if c := r.Claims[0].Spec.StorageClassName; c == nil || *c != "" {
		t.Errorf(`storageClass "-": storageClassName %v, want ""`, c)
	}
	r = mustRender(t, withSecret(map[string]any{"persistence": map[string]any{"storageClass": "fast-ssd"}}))
	if c := r.Claims[0].Spec.StorageClassName; c == nil || *c != "fast-ssd" {
		t.Errorf("storageClassName %v, want fast-ssd", c)
	}
}

// A probe's settings set to null (to take the kubelet's defaults) rendered
// "null" inside the probe: "could not find expected ':'".
func TestProbeSettingsMayBeNull(t *testing.T) {
	r := mustRender(t, withSecret(map[string]any{"probes": map[string]any{"startup": nil, "liveness": nil, "readiness": nil}}))
	c := r.Deployments[0].Spec.Template.Spec.Containers[0]
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil || c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Fatalf("probes %+v %+v %+v", c.StartupProbe, c.LivenessProbe, c.ReadinessProbe)
	}
}
