package connectortest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk/connectortest"
)

// TestTheAuthorsGuideListsEveryCheck keeps docs/connector-authors.md in step with Checks.
func TestTheAuthorsGuideListsEveryCheck(t *testing.T) {
	guide, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "connector-authors.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range connectortest.Checks() {
		if !strings.Contains(string(guide), "| `"+c.Name+"` |") {
			t.Errorf("docs/connector-authors.md has no row for the check %s", c.Name)
		}
	}
}

// TestTheAuthorsGuideShowsTheScaffoldsKitOptions keeps the guide's kitOptions in
// step with the one scripts/new-connector writes, in both shapes.
func TestTheAuthorsGuideShowsTheScaffoldsKitOptions(t *testing.T) {
	root := repoRoot(t)
	guide, err := os.ReadFile(filepath.Join(root, "docs", "connector-authors.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"oauth2", "rest"} {
		tmpl, err := os.ReadFile(filepath.Join(root, "scripts", "connector-templates", kind, "connector_test.go.tmpl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{
			"func kitOptions(t *testing.T) connectortest.Options {",
			"connectortest.Run(t, connectortest.Value(connector{}), kitOptions(t))",
			`connectortest.Run(t, hosttest.Binary("."), kitOptions(t))`,
		} {
			if !strings.Contains(string(tmpl), line) {
				t.Errorf("the %s scaffold's test lacks %q", kind, line)
			}
			if !strings.Contains(string(guide), line) {
				t.Errorf("docs/connector-authors.md lacks %q", line)
			}
		}
	}
}
