package sandbox

import (
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkLandlockRuleset is the launcher's Landlock work before exec: the
// ruleset of a plugin with its usual paths, in egress mode proxy (no TCP connect
// rule) and open (a connect rule for each of the 65,533 ports that are not
// idplug's), made and closed without restricting the benchmark itself.
func BenchmarkLandlockRuleset(b *testing.B) {
	base := Spec{Read: systemReadPaths, Write: []string{b.TempDir()}}
	for _, c := range []struct {
		name string
		spec func() Spec
	}{
		{"proxy", func() Spec { s := base; s.NoConnect = true; return s }},
		{"open", func() Spec { s := base; s.DenyPorts = []uint16{8080, 9100}; return s }},
	} {
		b.Run(c.name, func(b *testing.B) {
			spec := c.spec()
			for b.Loop() {
				cfg, rules := ruleset(7, spec)
				fd, _, err := cfg.NewRulesetFD(rules...)
				if err != nil {
					b.Skipf("no Landlock here: %v", err)
				}
				_ = unix.Close(fd)
			}
		})
	}
}
