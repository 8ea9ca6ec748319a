package config

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// loc says where a value is, for problems about it.
type loc struct {
	path *fieldPath
	pos
}

// fields gives typed access to the keys of one schema mapping (the top level
// or a connector), reporting keys it does not know.
type fields struct {
	d    *decoder
	m    map[string]entry
	path *fieldPath // of the mapping itself; nil at the top level
	pos  pos        // of the mapping, used for keys that are missing
}

// known collects the entries of mapping n, reporting each key not in allowed.
func (d *decoder) known(n *yaml.Node, path *fieldPath, allowed []string) fields {
	fs := fields{d: d, m: map[string]entry{}, path: path, pos: posOf(n)}
	for _, e := range d.entries(n, path, posOf(n)) {
		if !slices.Contains(allowed, e.key) {
			d.ps.add(e.path, e.keyPos, "%s", unknownKey(e.key, allowed))
			continue
		}
		fs.m[e.key] = e
	}
	return fs
}

// at locates key: its value when set, its key when null, the mapping when missing.
func (fs fields) at(key string) (entry, bool, loc) {
	e, ok := fs.m[key]
	switch {
	case !ok:
		return e, false, loc{fs.path.key(key), fs.pos}
	case isNull(e.value):
		return e, false, loc{e.path, e.keyPos}
	}
	return e, true, loc{e.path, posOf(e.value)}
}

// text returns the value of key as text; set is false when the key is
// missing, null, or not a single value (which is reported).
func (fs fields) text(key string) (value string, set bool, at loc) {
	e, ok, at := fs.at(key)
	if !ok {
		return "", false, at
	}
	v := deref(e.value)
	if v.Kind != yaml.ScalarNode {
		fs.d.ps.addFailed(at.path, at.pos, "must be a single value, not a %s", kindName(v))
		return "", false, at
	}
	return v.Value, true, at
}

// item is one text value of a list.
type item struct {
	value string
	at    loc
}

// list returns the items of a list of text values; a null item counts as "".
// empty reports a list that is missing or has no items; an item that is not
// text is reported and left out.
func (fs fields) list(key string) (items []item, empty bool, at loc) {
	e, ok, at := fs.at(key)
	if !ok {
		return nil, true, at
	}
	v := deref(e.value)
	if v.Kind != yaml.SequenceNode {
		fs.d.ps.addFailed(at.path, at.pos, `must be a list, like ["..."]`)
		return nil, false, at
	}
	out := make([]item, 0, len(v.Content))
	for i, it := range v.Content {
		p := at.path.item(i)
		iv := deref(it)
		switch {
		case iv.Kind != yaml.ScalarNode:
			fs.d.ps.add(p, posOf(it), "must be a single value, not a %s", kindName(iv))
		case iv.ShortTag() == "!!null":
			out = append(out, item{"", loc{p, posOf(it)}})
		default:
			out = append(out, item{iv.Value, loc{p, posOf(it)}})
		}
	}
	return out, len(v.Content) == 0, at
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// unknownKey explains an unknown key, suggesting the likely intended one.
func unknownKey(key string, allowed []string) string {
	for _, a := range allowed {
		if normalizeKey(a) == normalizeKey(key) || (len(key) > 3 && editDistance(a, key) <= 2) {
			return fmt.Sprintf("unknown key; did you mean %s?", a)
		}
	}
	return "unknown key (known keys: " + strings.Join(allowed, ", ") + ")"
}

// normalizeKey makes logo_dark, logo-dark and LogoDark compare equal.
func normalizeKey(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
