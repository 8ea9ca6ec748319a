package sdk

import "testing"

func TestBuildVersion(t *testing.T) {
	if got := BuildVersion("v1.2.3"); got != "v1.2.3" {
		t.Fatalf("BuildVersion(stamped) = %q", got)
	}
	// A test binary is built from the work tree: no module version.
	if got := BuildVersion(""); got != "dev" {
		t.Fatalf("BuildVersion(\"\") = %q, want dev", got)
	}
}
