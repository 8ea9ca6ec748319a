package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/config/internal/walk"
)

func TestConnectorsShareConfigThroughAnchors(t *testing.T) {
	cfg := mustParse(t, withMinimal(
		"connectors:",
		"  - &acme",
		"    id: acme",
		"    plugin: oauth2",
		"    config: {clientId: one}",
		"  - <<: *acme",
		"    id: acme-eu",
		"    target: acme-eu",
	), nil)
	if len(cfg.Instances) != 2 {
		t.Fatalf("connectors = %+v", cfg.Instances)
	}
	c := cfg.Instances[1]
	if c.ID != "acme-eu" || c.Plugin != "oauth2" || string(c.Config) != `{"clientId":"one"}` {
		t.Errorf("merged connector = %+v", c)
	}
}

// Nested aliases must not expand without bound.
// TestAliasExpansionIsBounded: a "billion laughs" file, each level an alias
// list of ten of the level below, is refused once MaxNodes values are
// visited. The work is measured in allocations, which do not depend on the
// machine's speed: twenty levels (10^20 values once expanded) cost no more
// than ten (10^10), and both stay proportional to MaxNodes, not to the
// expansion.
func TestAliasExpansionIsBounded(t *testing.T) {
	laughs := func(levels int) string {
		lines := []string{"connectors:", "  - id: acme", "    plugin: oauth2", "    config:", "      a0: &a0 [x, x, x, x, x, x, x, x, x, x]"}
		for i := 1; i < levels; i++ {
			prev := fmt.Sprintf("*a%d", i-1)
			lines = append(lines, fmt.Sprintf("      a%d: &a%d [%s]", i, i, strings.Repeat(prev+", ", 9)+prev))
		}
		return withMinimal(lines...)
	}
	allocs := map[int]float64{}
	for _, levels := range []int{10, 20} {
		doc := laughs(levels)
		allocs[levels] = testing.AllocsPerRun(1, func() {
			got := problemsOf(t, doc, nil)
			if len(got) != 1 || !strings.Contains(got[0], "too many values once aliases are expanded") {
				t.Errorf("%d levels: problems = %q", levels, got)
			}
		})
	}
	t.Logf("allocations: %v", allocs)
	if allocs[20] > 1.1*allocs[10] {
		t.Errorf("allocations grow with the expansion: %v at 10 levels, %v at 20", allocs[10], allocs[20])
	}
	if limit := 20.0 * walk.MaxNodes; allocs[10] > limit {
		t.Errorf("%v allocations, more than %v for %d values", allocs[10], limit, walk.MaxNodes)
	}
}

func TestFileTooLarge(t *testing.T) {
	data := make([]byte, MaxFileSize+1)
	for i := range data {
		data[i] = '#'
	}
	_, err := Parse(data, nil, "/")
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("err = %v", err)
	}
}
