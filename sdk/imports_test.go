package sdk_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestSDKNeverImportsTheHost keeps imports running one way: the host and the
// plugins use the SDK, and no package under sdk/ (its tests included) imports
// the host, so a connector's module depends on the SDK and what it needs alone.
func TestSDKNeverImportsTheHost(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "github.com/idplug/idplug/sdk/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var pkg struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&pkg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
			if imp == "github.com/idplug/idplug/host" || strings.HasPrefix(imp, "github.com/idplug/idplug/host/") {
				t.Errorf("%s imports %s: the SDK must not depend on the host", pkg.ImportPath, imp)
			}
		}
	}
	if seen < 4 {
		t.Fatalf("go list found %d packages under sdk/; the check would prove nothing", seen)
	}
}
