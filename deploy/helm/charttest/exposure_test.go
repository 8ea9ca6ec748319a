package charttest

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The admin listener (/metrics with connector ids, the detailed /readyz with file
// paths and what the sandbox lacks) has no authentication. The API's Service,
// which service.type LoadBalancer or NodePort, an Ingress or a mesh may publish,
// must not carry it, whatever its type and with or without a ServiceMonitor.
func TestAdminPortNotOnTheService(t *testing.T) {
	for _, typ := range []string{"ClusterIP", "LoadBalancer", "NodePort"} {
		for _, sm := range []bool{false, true} {
			r := mustRender(t, withSecret(map[string]any{
				"service":        map[string]any{"type": typ},
				"serviceMonitor": map[string]any{"enabled": sm},
			}))
			for _, s := range r.Services {
				var http, admin bool
				for _, p := range s.Spec.Ports {
					http = http || p.TargetPort == intstr.FromString("http")
					admin = admin || p.TargetPort == intstr.FromString("admin") || p.Port == 9100
				}
				if http && admin {
					t.Errorf("type %s, serviceMonitor %v: Service %s serves the API and also the unauthenticated admin port: %+v",
						typ, sm, s.Name, s.Spec.Ports)
				}
				if admin && s.Spec.Type != corev1.ServiceTypeClusterIP {
					t.Errorf("type %s: Service %s carries the admin port and is of type %s", typ, s.Name, s.Spec.Type)
				}
			}
		}
	}
}

// With serviceMonitor.enabled, a ClusterIP Service of the admin port alone, over
// the Deployment's pods, is what the ServiceMonitor (and only it) selects.
func TestMetricsServiceForTheServiceMonitor(t *testing.T) {
	r := mustRender(t, withSecret(map[string]any{"serviceMonitor": map[string]any{"enabled": true}}))
	if len(r.Services) != 2 || len(r.ServiceMonitor) != 1 {
		t.Fatalf("%d Services, %d ServiceMonitors", len(r.Services), len(r.ServiceMonitor))
	}
	pod := r.Deployments[0].Spec.Template
	sm := r.ServiceMonitor[0]
	var selected []string
	for _, s := range r.Services {
		matches := true
		for k, v := range sm.Spec.Selector.MatchLabels {
			matches = matches && s.Labels[k] == v
		}
		if matches {
			selected = append(selected, s.Name)
		}
	}
	if len(selected) != 1 || selected[0] != "idp-idplug-metrics" {
		t.Fatalf("the ServiceMonitor (selector %v) selects %v, want the metrics Service alone", sm.Spec.Selector.MatchLabels, selected)
	}
	for _, s := range r.Services {
		if s.Name != "idp-idplug-metrics" {
			continue
		}
		if s.Spec.Type != corev1.ServiceTypeClusterIP || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != "admin" ||
			s.Spec.Ports[0].TargetPort != intstr.FromString("admin") || sm.Spec.Endpoints[0].Port != "admin" {
			t.Errorf("metrics Service %s %+v, ServiceMonitor endpoints %+v", s.Spec.Type, s.Spec.Ports, sm.Spec.Endpoints)
		}
		for k, v := range s.Spec.Selector {
			if pod.Labels[k] != v {
				t.Errorf("the metrics Service's selector %v does not select the Deployment's pods %v", s.Spec.Selector, pod.Labels)
			}
		}
	}

	long := mustRenderRelease(t, "a23456789-123456789-123456789-123456789-123456789-123", withSecret(map[string]any{
		"serviceMonitor": map[string]any{"enabled": true},
	}))
	for _, s := range long.Services {
		if errs := validation.IsDNS1035Label(s.Name); len(errs) > 0 {
			t.Errorf("Service name %q (%d characters): %v", s.Name, len(s.Name), errs)
		}
	}
}

// With the chart's own securityContext (RuntimeDefault seccomp, no capabilities)
// the plugins get no network namespace (docs/operators.md, "The sandbox": unshare
// is refused), so their egress is open: a NetworkPolicy is the pod's only network
// confinement. networkPolicy.enabled renders one: http from anyone (or httpFrom),
// admin from adminFrom only, egress to DNS and to every address but the cloud
// metadata service, plus extraEgress.
func TestNetworkPolicy(t *testing.T) {
	t.Run("the migrate Job's pods", func(t *testing.T) {
		r := mustRender(t, withSecret(map[string]any{"store": postgres, "migrate": map[string]any{"mode": "job"}, "networkPolicy": map[string]any{"enabled": true}}))
		if len(r.NetPolicies) != 2 || len(r.Jobs) != 1 {
			t.Fatalf("%d NetworkPolicies and %d Jobs, want 2 and 1", len(r.NetPolicies), len(r.Jobs))
		}
		job := r.NetPolicies[1].Spec
		for k, v := range job.PodSelector.MatchLabels {
			if r.Jobs[0].Spec.Template.Labels[k] != v {
				t.Errorf("podSelector %v does not select the Job's pods %v", job.PodSelector.MatchLabels, r.Jobs[0].Spec.Template.Labels)
			}
		}
		if len(job.Ingress) != 0 || !reflect.DeepEqual(job.Egress, r.NetPolicies[0].Spec.Egress) {
			t.Errorf("the Job's policy: ingress %+v, egress %+v; want none, and the Deployment's egress", job.Ingress, job.Egress)
		}
	})
	if r := mustRender(t, withSecret(map[string]any{})); len(r.NetPolicies) != 0 {
		t.Errorf("a NetworkPolicy by default")
	}
	r := mustRender(t, withSecret(map[string]any{"networkPolicy": map[string]any{"enabled": true}}))
	if len(r.NetPolicies) != 1 {
		t.Fatalf("networkPolicy.enabled: %d NetworkPolicies", len(r.NetPolicies))
	}
	np := r.NetPolicies[0].Spec
	for k, v := range np.PodSelector.MatchLabels {
		if r.Deployments[0].Spec.Template.Labels[k] != v {
			t.Errorf("podSelector %v does not select the Deployment's pods", np.PodSelector.MatchLabels)
		}
	}
	if !slices.Equal(np.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes %v", np.PolicyTypes)
	}
	if len(np.Ingress) != 1 || !onlyPort(np.Ingress[0].Ports, intstr.FromString("http")) || len(np.Ingress[0].From) != 0 {
		t.Errorf("default ingress %+v, want port http from anyone and nothing to admin", np.Ingress)
	}
	var dns, world bool
	for _, e := range np.Egress {
		for _, p := range e.Ports {
			dns = dns || (p.Port != nil && p.Port.IntValue() == 53 && len(e.To) == 0)
		}
		for _, to := range e.To {
			if to.IPBlock != nil && to.IPBlock.CIDR == "0.0.0.0/0" && len(e.Ports) == 0 {
				world = slices.Contains(to.IPBlock.Except, "169.254.0.0/16") && slices.Contains(to.IPBlock.Except, "168.63.129.16/32") &&
					slices.Contains(to.IPBlock.Except, "100.100.100.200/32")
			}
		}
	}
	if !dns || !world || len(np.Egress) != 2 {
		t.Errorf("default egress %+v: want DNS, and every address but the clouds' link-local and metadata ones", np.Egress)
	}

	monitoring := map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}
	ingress := map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "ingress"}}}
	db := map[string]any{"to": []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "postgres"}}}},
		"ports": []any{map[string]any{"port": 5432, "protocol": "TCP"}}}
	r = mustRender(t, withSecret(map[string]any{"networkPolicy": map[string]any{
		"enabled": true, "httpFrom": []any{ingress}, "adminFrom": []any{monitoring},
		"egress": []any{}, "extraEgress": []any{db},
	}}))
	np = r.NetPolicies[0].Spec
	if len(np.Ingress) != 2 ||
		!onlyPort(np.Ingress[0].Ports, intstr.FromString("http")) || len(np.Ingress[0].From) != 1 || np.Ingress[0].From[0].PodSelector == nil ||
		!onlyPort(np.Ingress[1].Ports, intstr.FromString("admin")) || len(np.Ingress[1].From) != 1 || np.Ingress[1].From[0].NamespaceSelector == nil {
		t.Errorf("ingress %+v: want http from the ingress pods, admin from the monitoring namespace", np.Ingress)
	}
	if len(np.Egress) != 2 || !onlyPort(np.Egress[1].Ports, intstr.FromInt32(5432)) {
		t.Errorf("egress %+v: want DNS and the database only", np.Egress)
	}
}

func onlyPort(ports []networkingv1.NetworkPolicyPort, port intstr.IntOrString) bool {
	return len(ports) == 1 && ports[0].Port != nil && *ports[0].Port == port
}

// networkPolicy.enabled is false by default: helm install says what that leaves
// open. Under the chart's seccomp RuntimeDefault the plugins get no network
// namespace, so their egress is open (idplug's egress proxy needs one): from
// the pod, plugins included, the cloud's metadata service, the database and
// every Service of the cluster are reachable. With the policy, the notes say
// nothing of it.
func TestNotesSayWhatNoNetworkPolicyLeavesOpen(t *testing.T) {
	notes := mustRender(t, withSecret(map[string]any{})).Notes
	for _, want := range []string{
		"networkPolicy.enabled is false",
		"169.254.169.254",
		"every in-cluster Service",
		"egress proxy",
		"sandbox.egress",
		"networkPolicy.enabled=true",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("the notes do not say %q:\n%s", want, notes)
		}
	}
	if notes := mustRender(t, withSecret(map[string]any{"networkPolicy": map[string]any{"enabled": true}})).Notes; strings.Contains(notes, "networkPolicy.enabled is false") {
		t.Errorf("with a NetworkPolicy the notes say there is none:\n%s", notes)
	}
}
