package host

import (
	"slices"
	"sort"
)

func sortStrings(s []string) { slices.Sort(s) }

// sortProblems orders problems by the connector's position in the configuration, then
// by field, so the report reads top to bottom like the file.
func sortProblems(ps []Problem, cfgs []ConnectorConfig) {
	pos := map[string]int{}
	for i, c := range cfgs {
		if _, ok := pos[c.ID]; !ok && c.ID != "" {
			pos[c.ID] = i
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		pi, pj := pos[ps[i].Connector], pos[ps[j].Connector]
		if pi != pj {
			return pi < pj
		}
		return ps[i].Field < ps[j].Field
	})
}
