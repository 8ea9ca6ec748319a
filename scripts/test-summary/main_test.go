package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealGoTestOutput runs go test on a scratch module with a passing package,
// a failing subtest, a panic and a build error, and checks the summary names
// each failure under its package and nothing that passed.
func TestRealGoTestOutput(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":              "module example.test/m\n\ngo 1.22\n",
		"good/good_test.go":   "package good\nimport \"testing\"\nfunc TestFine(t *testing.T) {}\n",
		"sub/sub_test.go":     "package sub\nimport \"testing\"\nfunc TestOuter(t *testing.T) {\n t.Run(\"ok\", func(t *testing.T) {})\n t.Run(\"broken case\", func(t *testing.T) { t.Fatal(\"boom\") })\n}\nfunc TestAlso(t *testing.T) { t.Error(\"no\") }\nfunc TestPasses(t *testing.T) {}\n",
		"crash/crash_test.go": "package crash\nimport \"testing\"\nfunc init() { if testing.Testing() { go func() { panic(\"at init\") }() } }\nfunc TestWaits(t *testing.T) { select {} }\n",
		"nobuild/x_test.go":   "package nobuild\nimport \"testing\"\nfunc TestX(t *testing.T) { undefined() }\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-count=1", "-timeout=60s", "./...")
	cmd.Dir = dir
	// Static and -trimpath, as the repository's other builds outside the race
	// tests (internal/gobuild): the standard library compiled for them serves.
	cmd.Env = append(os.Environ(), "GOFLAGS=-trimpath", "CGO_ENABLED=0", "GOWORK=off")
	log, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("go test passed on a module built to fail:\n%s", log)
	}
	failed, err := parse(bytes.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	write(&out, failed, "test.log")
	got := out.String()
	for _, want := range []string{
		"example.test/m/sub", "TestOuter/broken_case", "TestAlso",
		"example.test/m/crash", "panic: at init",
		"example.test/m/nobuild", "did not build",
		"3 package(s)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s\n--- log:\n%s", want, got, log)
		}
	}
	for _, unwanted := range []string{"example.test/m/good", "TestPasses", "TestOuter/ok", "      TestOuter\n"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("summary names %q, which did not fail:\n%s", unwanted, got)
		}
	}
}

func TestNothingFailed(t *testing.T) {
	failed, err := parse(strings.NewReader("ok  \texample.test/a\t0.1s\n?   \texample.test/b\t[no test files]\n"))
	if err != nil || len(failed) != 0 {
		t.Fatalf("parse = %v, %v; want nothing", failed, err)
	}
}

// The chart's tests are a module of their own: their hint says where to run them.
func TestChartFailureSaysWhereToRunIt(t *testing.T) {
	var out strings.Builder
	write(&out, []pkgFailure{{Package: "github.com/idplug/idplug/host", Tests: []string{"TestA"}}}, "test.log")
	if strings.Contains(out.String(), "deploy/helm/charttest") {
		t.Errorf("a summary without the chart's tests names its folder:\n%s", out.String())
	}
	out.Reset()
	write(&out, []pkgFailure{{Package: "github.com/idplug/idplug/deploy/helm/charttest", Tests: []string{"TestB"}}}, "test.log")
	if !strings.Contains(out.String(), "cd deploy/helm/charttest && go test") {
		t.Errorf("the chart's failure does not say where to run it again:\n%s", out.String())
	}
}
