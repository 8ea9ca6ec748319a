package charttest

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/version"
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
// release name Helm takes, it still fits in 63 characters, its hash included.
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
		if !regexp.MustCompile(`-migrate-[0-9a-f]{10}$`).MatchString(name) || !strings.HasPrefix(name, release[:min(len(release), 40)]) {
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

// After SIGTERM idplug closes its listener at once and finishes the requests in
// flight for up to 30 s. The Service's endpoints, kube-proxy and the ingress
// controllers drop a terminating pod only some moments later: meanwhile new
// connections to it were refused. A preStop sleep (Kubernetes' own sleep
// action: the image has no shell) keeps idplug serving while they catch up,
// where the cluster has the action (1.30 and later), and the grace period
// covers the sleep and idplug's drain; the chart refuses one that does not.
func TestPreStopSleep(t *testing.T) {
	for _, tc := range []struct {
		kube      string
		values    map[string]any
		sleep     int64 // 0: no hook
		grace     int64
		wantError string
	}{
		{kube: "v1.33.0", sleep: 5, grace: 45},
		{kube: "v1.30.0", sleep: 5, grace: 45},
		// EKS and GKE versions carry a suffix semver reads as a pre-release.
		{kube: "v1.30.2-eks-1552ad0", sleep: 5, grace: 45},
		{kube: "v1.29.4", sleep: 0, grace: 45},
		{kube: "v1.33.0", values: map[string]any{"preStopSleepSeconds": 15, "terminationGracePeriodSeconds": 60}, sleep: 15, grace: 60},
		{kube: "v1.33.0", values: map[string]any{"preStopSleepSeconds": 0}, sleep: 0, grace: 45},
		{kube: "v1.33.0", values: map[string]any{"preStopSleepSeconds": 20, "terminationGracePeriodSeconds": 40},
			wantError: "terminationGracePeriodSeconds: 40 leaves idplug 20 s to drain after the preStop sleep of 20 s (preStopSleepSeconds); it takes up to 30 s: set it to 60 or more"},
		{kube: "v1.29.4", values: map[string]any{"terminationGracePeriodSeconds": 20},
			wantError: "terminationGracePeriodSeconds: 20 leaves idplug 20 s to drain"},
		{kube: "v1.33.0", values: map[string]any{"preStopSleepSeconds": -1}, wantError: "preStopSleepSeconds: -1 is not a whole number (0 or more)"},
	} {
		t.Run(fmt.Sprintf("%s %v", tc.kube, tc.values), func(t *testing.T) {
			v, err := version.ParseGeneric(tc.kube)
			must(t, err)
			kube := &chartutil.KubeVersion{Version: tc.kube, Major: fmt.Sprint(v.Major()), Minor: fmt.Sprint(v.Minor())}
			values := withSecret(map[string]any{})
			maps.Copy(values, tc.values)
			r, err := renderWith(t, renderOptions{Kube: kube}, values)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("helm template: %v", err)
			}
			pod := r.Deployments[0].Spec.Template.Spec
			if g := pod.TerminationGracePeriodSeconds; g == nil || *g != tc.grace {
				t.Errorf("terminationGracePeriodSeconds %s, want %d", ptrString(g), tc.grace)
			}
			l := pod.Containers[0].Lifecycle
			switch {
			case tc.sleep == 0 && l != nil:
				t.Errorf("a lifecycle %+v; want none", l)
			case tc.sleep > 0 && (l == nil || l.PreStop == nil || l.PreStop.Sleep == nil || l.PreStop.Sleep.Seconds != tc.sleep ||
				l.PreStop.Exec != nil || l.PreStop.HTTPGet != nil || l.PostStart != nil):
				t.Errorf("lifecycle %+v; want a preStop sleep of %d s alone", l, tc.sleep)
			}
			for _, c := range pod.InitContainers {
				if c.Lifecycle != nil {
					t.Errorf("init container %s has a lifecycle", c.Name)
				}
			}
			if old := strings.HasPrefix(tc.kube, "v1.29"); old != strings.Contains(r.Notes, "has no preStop sleep action") {
				t.Errorf("Kubernetes %s: the notes say of the preStop sleep:\n%s", tc.kube, r.Notes)
			}
			if tc.sleep > 0 && *pod.TerminationGracePeriodSeconds < tc.sleep+30 {
				t.Errorf("grace %d s: less than the sleep and idplug's 30 s drain", *pod.TerminationGracePeriodSeconds)
			}
		})
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

// A Job's pod template cannot change. The migrate Job was named by the release
// revision, which `helm template` (Argo CD, Flux's post-renderers, GitOps in
// general) always sets to 1: a new image came as a changed Job of the same name,
// which the API server refuses ("spec.template: field is immutable"). It is
// named by a hash of what its pod runs: the same pod keeps its name from one
// revision to the next (so helm upgrade leaves it alone), any change to it
// (image, configuration, secrets, pod settings) brings a Job of another name.
func TestMigrateJobNamedByWhatItRuns(t *testing.T) {
	job := func(revision int, extra map[string]any) string {
		t.Helper()
		values := withSecret(map[string]any{"store": postgres, "migrate": map[string]any{"mode": "job"}})
		maps.Copy(values, extra)
		r, err := renderWith(t, renderOptions{Revision: revision}, values)
		if err != nil {
			t.Fatalf("helm template: %v", err)
		}
		if len(r.Jobs) != 1 {
			t.Fatalf("%d Jobs", len(r.Jobs))
		}
		return r.Jobs[0].Name
	}
	base := job(1, nil)
	if again := job(2, nil); again != base {
		t.Errorf("revision 2 of the same values: Job %s, revision 1 %s; want the same", again, base)
	}
	for name, extra := range map[string]map[string]any{
		"image":       {"image": map[string]any{"tag": "1.5.0"}},
		"config":      {"config": map[string]any{"public_url": "https://login.example.com", "session_keys": []any{"${file:/etc/idplug/secrets/session-key}"}, "api_keys": []any{"${file:/etc/idplug/secrets/api-key}"}}},
		"store.url":   {"store": map[string]any{"backend": "postgres", "url": "${file:/etc/idplug/secrets/other-url}"}},
		"env":         {"env": []any{map[string]any{"name": "TZ", "value": "UTC"}}},
		"resources":   {"resources": map[string]any{"limits": map[string]any{"memory": "256Mi"}}},
		"podLabels":   {"podLabels": map[string]any{"team": "auth"}},
		"tolerations": {"tolerations": []any{map[string]any{"key": "dedicated", "operator": "Exists"}}},
	} {
		if got := job(1, extra); got == base {
			t.Errorf("a changed %s: the Job keeps its name %s (its pod template cannot change)", name, got)
		}
	}

	// A finished Job is deleted after an hour, or kept (null) for a GitOps
	// tool that would create it again once it is gone.
	for ttl, want := range map[any]string{3600: "3600", nil: "unset", 0: "0"} {
		r := mustRender(t, withSecret(map[string]any{"store": postgres, "migrate": map[string]any{"mode": "job", "jobTTLSecondsAfterFinished": ttl}}))
		if got := ptrString(r.Jobs[0].Spec.TTLSecondsAfterFinished); got != want {
			t.Errorf("jobTTLSecondsAfterFinished %v: ttlSecondsAfterFinished %s, want %s", ttl, got, want)
		}
	}
}

// The guards read numbers through sprig's int, which makes 0 of a string it
// cannot parse ("2 ", " 1"): replicaCount "2 " with SQLite passed the one-replica
// guard and rendered two replicas (YAML reads `replicas: 2 ` as 2), and a
// minAvailable of "1 " passed the PDB guard and blocked every drain. Every number
// the guards read must be one (an integer; a percentage "N%" where Kubernetes
// takes one).
func TestNumbersMustBeNumbers(t *testing.T) {
	pdb := func(v map[string]any) map[string]any { v["enabled"] = true; return v }
	for name, tc := range map[string]struct {
		values map[string]any
		want   string
	}{
		"replicaCount with a space":            {map[string]any{"replicaCount": "2 "}, `replicaCount: "2 " is not a whole number`},
		"replicaCount as a string":             {map[string]any{"replicaCount": "2"}, `replicaCount: "2" is not a whole number`},
		"replicaCount of 1.5":                  {map[string]any{"replicaCount": 1.5}, `replicaCount: 1.5 is not a whole number`},
		"replicaCount of -1":                   {map[string]any{"replicaCount": -1}, `replicaCount: -1 is not a whole number`},
		"minAvailable with a space":            {map[string]any{"store": postgres, "podDisruptionBudget": pdb(map[string]any{"minAvailable": "1 "})}, `podDisruptionBudget.minAvailable: "1 " is not a whole number or a percentage`},
		"minAvailable, a percentage and space": {map[string]any{"store": postgres, "podDisruptionBudget": pdb(map[string]any{"minAvailable": "100 %"})}, `podDisruptionBudget.minAvailable: "100 %"`},
		"maxUnavailable with a space":          {map[string]any{"store": postgres, "replicaCount": 3, "podDisruptionBudget": pdb(map[string]any{"maxUnavailable": "0 "})}, `podDisruptionBudget.maxUnavailable: "0 " is not a whole number or a percentage`},
		"maxUnavailable of 00%":                {map[string]any{"store": postgres, "replicaCount": 3, "podDisruptionBudget": pdb(map[string]any{"maxUnavailable": "00%"})}, "podDisruptionBudget.maxUnavailable: 0 lets no pod be evicted"},
		"minAvailable past 100%":               {map[string]any{"store": postgres, "replicaCount": 3, "podDisruptionBudget": pdb(map[string]any{"minAvailable": "150%"})}, `podDisruptionBudget.minAvailable: "150%"`},
		"autoscaling.minReplicas with a space": {map[string]any{"store": postgres, "podDisruptionBudget": pdb(map[string]any{}), "resources": map[string]any{"requests": map[string]any{"cpu": "100m"}},
			"autoscaling": map[string]any{"enabled": true, "minReplicas": "1 "}}, `autoscaling.minReplicas: "1 " is not a whole number`},
		"autoscaling.maxReplicas below the minimum": {map[string]any{"store": postgres, "resources": map[string]any{"requests": map[string]any{"cpu": "100m"}},
			"autoscaling": map[string]any{"enabled": true, "minReplicas": 3, "maxReplicas": 2}}, "autoscaling.maxReplicas: 2 is below autoscaling.minReplicas (3)"},
		"terminationGracePeriodSeconds as a string": {map[string]any{"terminationGracePeriodSeconds": "60"}, `terminationGracePeriodSeconds: "60" is not a whole number`},
		"service.port as a string":                  {map[string]any{"service": map[string]any{"port": "80"}}, `service.port: "80" is not a port`},
	} {
		t.Run(name, func(t *testing.T) { refused(t, withSecret(tc.values), tc.want) })
	}
	// Numbers as --set gives them (int64) and as values files do (float64).
	r := mustRender(t, withSecret(map[string]any{"store": postgres, "replicaCount": int64(3),
		"podDisruptionBudget": pdb(map[string]any{"minAvailable": int64(2)}), "terminationGracePeriodSeconds": 50.0}))
	if d := r.Deployments[0].Spec; *d.Replicas != 3 || r.PDBs[0].Spec.MinAvailable.IntValue() != 2 || *d.Template.Spec.TerminationGracePeriodSeconds != 50 {
		t.Errorf("replicas %d, minAvailable %v, grace %d", *d.Replicas, r.PDBs[0].Spec.MinAvailable, *d.Template.Spec.TerminationGracePeriodSeconds)
	}
	r = mustRender(t, withSecret(map[string]any{"store": postgres, "replicaCount": 3, "podDisruptionBudget": pdb(map[string]any{"maxUnavailable": "34%"})}))
	if got := r.PDBs[0].Spec.MaxUnavailable.String(); got != "34%" {
		t.Errorf("maxUnavailable %s, want 34%%", got)
	}
}

// podLabels were written after the selector labels: a key of the selector
// there (the YAML decoders keep the last of two keys) gave the pods labels the
// Deployment's selector does not match (the API server refuses it), or, with
// the release's name, put them under another release's Service and
// NetworkPolicy. The chart refuses the selector's keys in podLabels.
func TestPodLabelsKeepTheSelector(t *testing.T) {
	for _, key := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance"} {
		for _, mode := range []string{"initContainer", "job"} {
			refused(t, withSecret(map[string]any{"store": postgres, "migrate": map[string]any{"mode": mode}, "podLabels": map[string]any{key: "other"}}),
				"podLabels: "+key+" is a label of the chart's selectors")
		}
	}
	r := mustRender(t, withSecret(map[string]any{"podLabels": map[string]any{"app.kubernetes.io/component": "server", "team": "auth"}}))
	if l := r.Deployments[0].Spec.Template.Labels; l["team"] != "auth" || l["app.kubernetes.io/name"] != "idplug" {
		t.Errorf("pod labels %v", l)
	}
}
