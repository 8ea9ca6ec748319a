package charttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/idplug/idplug/internal/containertest"
	"github.com/idplug/idplug/internal/testport"
	corev1 "k8s.io/api/core/v1"
)

func TestMain(m *testing.M) { containertest.Main(m) }

// TestRenderedPodSignsIn runs the rendered pod on the engine as a kubelet would:
// the init container, then idplug, each with the pod's command, arguments, user
// and fsGroup, read-only root, dropped capabilities, mounts (the ConfigMap, the
// Secret's files with their mode and group, the data and tmp volumes) and
// environment. The readiness probe's URL answers, and a sign-in through it
// against the real provider succeeds.
func TestRenderedPodSignsIn(t *testing.T) {
	e := containertest.Start(t)
	image := e.Image(t, "idplug")
	op := containertest.StartProvider(t)
	httpPort, adminPort := testport.Free(t), testport.Free(t)
	const apiKey = "api-key-0123456789abcdef0123456789abcdef"
	r, err := render(t, map[string]any{
		"ports": map[string]any{"http": httpPort, "admin": adminPort},
		"env":   []map[string]any{{"name": "IDPLUG_PUBLIC_URL", "value": fmt.Sprintf("http://127.0.0.1:%d", httpPort)}},
		"config": map[string]any{
			"public_url":   "${IDPLUG_PUBLIC_URL}",
			"session_keys": []string{"${file:/etc/idplug/secrets/session-key}"},
			"api_keys":     []string{"${file:/etc/idplug/secrets/api-key}"},
			"connectors": []map[string]any{{"id": "acme", "plugin": "oauth2",
				"config": op.OAuth2Config("${file:/etc/idplug/secrets/client-secret}")}},
		},
		"secrets": map[string]any{"files": map[string]any{
			"session-key":   "session-key-0123456789abcdef0123456789",
			"api-key":       apiKey,
			"client-secret": op.Secret,
		}},
	})
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	pod := r.Deployments[0].Spec.Template.Spec
	if got := pod.Containers[0].Image; got != image {
		t.Fatalf("the pod runs %s, the test built %s", got, image)
	}
	vols := materialize(t, r, pod)
	for _, ic := range pod.InitContainers {
		c := e.Run(t, podContainer(pod, ic, vols))
		if code := c.Wait(t); code != 0 {
			t.Fatalf("init container %s exited %d:\n%s", ic.Name, code, c.Logs())
		}
	}
	main := pod.Containers[0]
	c := e.Run(t, podContainer(pod, main, vols))
	c.WaitReady(t, probeURL(t, main, main.ReadinessProbe))
	if uid := containertest.HostUID(t, c.Pid(t)); uid != strconv.FormatInt(*main.SecurityContext.RunAsUser, 10) {
		t.Errorf("idplug runs as uid %s, want the pod's %d", uid, *main.SecurityContext.RunAsUser)
	}
	op.SignIn(t, fmt.Sprintf("http://127.0.0.1:%d", httpPort), apiKey, "acme")
}

// materialize makes a host folder for each of the pod's volumes, as the kubelet
// would: ConfigMap keys as 0644 files, Secret keys with the volume's mode owned
// by root and the pod's fsGroup, and writable volumes group-owned by fsGroup.
func materialize(t *testing.T, r *rendered, pod corev1.PodSpec) map[string]string {
	t.Helper()
	fsGroup := int(*pod.SecurityContext.FSGroup)
	dirs := map[string]string{}
	for _, v := range pod.Volumes {
		dir := t.TempDir()
		must(t, os.Chmod(dir, 0o755))
		switch {
		case v.ConfigMap != nil:
			for _, cm := range r.ConfigMaps {
				if cm.Name == v.ConfigMap.Name {
					for k, data := range configMapFiles(cm) {
						must(t, os.WriteFile(filepath.Join(dir, k), data, 0o644))
					}
				}
			}
		case v.Secret != nil:
			mode := os.FileMode(*v.Secret.DefaultMode)
			for _, s := range r.Secrets {
				if s.Name == v.Secret.SecretName {
					for k, data := range secretFiles(s) {
						path := filepath.Join(dir, k)
						must(t, os.WriteFile(path, data, mode))
						must(t, os.Chmod(path, mode))
						must(t, os.Chown(path, 0, fsGroup))
					}
				}
			}
		case v.EmptyDir != nil || v.PersistentVolumeClaim != nil:
			must(t, os.Chown(dir, 0, fsGroup))
			must(t, os.Chmod(dir, 0o2775))
		default:
			t.Fatalf("volume %s: a kind the test cannot make", v.Name)
		}
		dirs[v.Name] = dir
	}
	return dirs
}

// podContainer is a container of the pod as a docker run.
func podContainer(pod corev1.PodSpec, c corev1.Container, vols map[string]string) containertest.Spec {
	sc := c.SecurityContext
	s := containertest.Spec{
		Image:          c.Image,
		Entrypoint:     c.Command,
		Cmd:            c.Args,
		User:           fmt.Sprintf("%d:%d", *sc.RunAsUser, *sc.RunAsGroup),
		GroupAdd:       []string{strconv.FormatInt(*pod.SecurityContext.FSGroup, 10)},
		ReadOnlyRootFS: *sc.ReadOnlyRootFilesystem,
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		s.SecurityOpt = append(s.SecurityOpt, "no-new-privileges")
	}
	for _, capability := range sc.Capabilities.Drop {
		s.CapDrop = append(s.CapDrop, string(capability))
	}
	for _, m := range c.VolumeMounts {
		src := vols[m.Name]
		if m.SubPath != "" {
			src = filepath.Join(src, m.SubPath)
		}
		s.Mounts = append(s.Mounts, containertest.Mount{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly})
	}
	for _, env := range c.Env {
		s.Env = append(s.Env, env.Name+"="+env.Value)
	}
	return s
}

// probeURL is the URL a kubelet's HTTP probe would ask, on the host's network.
func probeURL(t *testing.T, c corev1.Container, p *corev1.Probe) string {
	t.Helper()
	port := p.HTTPGet.Port.IntValue()
	for _, cp := range c.Ports {
		if cp.Name == p.HTTPGet.Port.String() {
			port = int(cp.ContainerPort)
		}
	}
	return fmt.Sprintf("http://127.0.0.1:%d%s", port, p.HTTPGet.Path)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
