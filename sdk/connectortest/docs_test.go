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
