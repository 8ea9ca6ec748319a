package walk

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Loc says where a value is, for problems about it.
type Loc struct {
	Path *Path
	Pos  Pos
}

// Fields gives typed access to the keys of one mapping of a schema, such as
// the top level of a file or one item of a list.
type Fields struct {
	d *Decoder
	m map[string]Entry
	// Path is that of the mapping itself; nil at the top level.
	Path *Path
	// Pos is that of the mapping, used for keys that are missing.
	Pos Pos
}

// NewFields returns an empty Fields for the mapping at path and p, to be
// filled with Set by a caller that checks the keys itself.
func (d *Decoder) NewFields(path *Path, p Pos) Fields {
	return Fields{d: d, m: map[string]Entry{}, Path: path, Pos: p}
}

// Set adds entry e, replacing any entry with the same key.
func (fs Fields) Set(e Entry) { fs.m[e.Key] = e }

// Known collects the entries of mapping n, reporting each key not in allowed.
func (d *Decoder) Known(n *yaml.Node, path *Path, allowed []string) Fields {
	fs := d.NewFields(path, PosOf(n))
	for _, e := range d.Entries(n, path, PosOf(n)) {
		if !slices.Contains(allowed, e.Key) {
			d.ps.Add(e.Path, e.KeyPos, "%s", unknownKey(e.Key, allowed))
			continue
		}
		fs.m[e.Key] = e
	}
	return fs
}

// At locates key: its value when set, its key when null, the mapping when missing.
func (fs Fields) At(key string) (Entry, bool, Loc) {
	e, ok := fs.m[key]
	switch {
	case !ok:
		return e, false, Loc{fs.Path.Key(key), fs.Pos}
	case IsNull(e.Value):
		return e, false, Loc{e.Path, e.KeyPos}
	}
	return e, true, Loc{e.Path, PosOf(e.Value)}
}

// Empty reports whether key is written with no value: null, or a reference
// that was empty (a plain scalar is typed again once its references are
// replaced). At is the key's place.
func (fs Fields) Empty(key string) (bool, Loc) {
	e, ok := fs.m[key]
	if !ok || !IsNull(e.Value) {
		return false, Loc{}
	}
	return true, Loc{e.Path, e.KeyPos}
}

// Text returns the value of key as text; set is false when the key is
// missing, null, or not a single value (which is reported).
func (fs Fields) Text(key string) (value string, set bool, at Loc) {
	e, ok, at := fs.At(key)
	if !ok {
		return "", false, at
	}
	v := Deref(e.Value)
	if v.Kind != yaml.ScalarNode {
		fs.d.ps.AddFailed(at.Path, at.Pos, "must be a single value, not a %s", KindName(v))
		return "", false, at
	}
	return v.Value, true, at
}

// Item is one text value of a list.
type Item struct {
	Value string
	At    Loc
}

// List returns the items of a list of text values; a null item counts as "".
// empty reports a list that is missing or has no items; an item that is not
// text is reported and left out.
func (fs Fields) List(key string) (items []Item, empty bool, at Loc) {
	e, ok, at := fs.At(key)
	if !ok {
		return nil, true, at
	}
	v := Deref(e.Value)
	if v.Kind != yaml.SequenceNode {
		fs.d.ps.AddFailed(at.Path, at.Pos, `must be a list, like ["..."]`)
		return nil, false, at
	}
	content := fs.d.Items(v, at.Path, at.Pos)
	out := make([]Item, 0, len(content))
	for i, it := range content {
		p := at.Path.Item(i)
		iv := Deref(it)
		switch {
		case iv.Kind != yaml.ScalarNode:
			fs.d.ps.Add(p, PosOf(it), "must be a single value, not a %s", KindName(iv))
		case iv.ShortTag() == "!!null":
			out = append(out, Item{"", Loc{p, PosOf(it)}})
		default:
			out = append(out, Item{iv.Value, Loc{p, PosOf(it)}})
		}
	}
	return out, len(v.Content) == 0, at
}

// KindName names the kind of n for problems: mapping, list or value.
func KindName(n *yaml.Node) string {
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
