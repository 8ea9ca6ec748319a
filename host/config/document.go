package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes visited while decoding, counting every expansion
// of an alias, so that a small file of nested aliases cannot take the process
// down ("billion laughs"). Real configuration files are far below it.
const maxNodes = 100_000

const mergeTag = "!!merge"

// parseDocument parses data as one YAML document and returns its root node,
// or nil for an empty file.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(err)
	default:
		return nil, &Error{Problems: []Problem{{Line: extra.Line, Message: "a second YAML document starts here; the file must hold exactly one"}}}
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

var yamlLineRE = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML parser error into an *Error pointing at its line.
func syntaxError(err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Problems: []Problem{{Line: line, Message: "YAML syntax: " + m[2]}}}
	}
	if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	return &Error{Problems: []Problem{{Message: "YAML syntax: " + msg}}}
}

func keyPath(path string, key *yaml.Node) string {
	name := deref(key).Value
	if path == "" {
		return name
	}
	return path + "." + name
}

func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// deref returns the node an alias stands for. Anchors cannot be put on
// aliases, so one step is enough.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decoder walks the parsed document and records problems as it goes.
type decoder struct {
	ps *problems
	// budget is the number of nodes that may still be visited.
	budget int
	// active holds the collections being expanded, to catch an alias that
	// refers to a collection containing it.
	active map[*yaml.Node]bool
}

func newDecoder(ps *problems) *decoder {
	return &decoder{ps: ps, budget: maxNodes, active: map[*yaml.Node]bool{}}
}

// spend takes one node from the budget, reporting exhaustion once.
func (d *decoder) spend(path string, line int) bool {
	if d.budget > 0 {
		d.budget--
		return true
	}
	if d.budget == 0 {
		d.budget = -1
		d.ps.add(path, line, "too many values once aliases are expanded (more than %d)", maxNodes)
	}
	return false
}

// enter marks collection n as being expanded; it reports false, with a
// problem, when n already is (an alias that contains itself).
func (d *decoder) enter(n *yaml.Node, path string, line int) bool {
	if d.active[n] {
		d.ps.add(path, line, "refers to itself through an alias")
		return false
	}
	if !d.spend(path, line) {
		return false
	}
	d.active[n] = true
	return true
}

func (d *decoder) leave(n *yaml.Node) { delete(d.active, n) }

// entry is one key and value of a mapping.
type entry struct {
	key     string
	keyLine int
	path    string
	// value is the node as written, possibly an alias.
	value *yaml.Node
}

// entries lists the entries of mapping n in order. Merge keys ("<<: *base")
// are expanded as YAML defines them: keys written in n win over merged ones,
// and an earlier merged mapping wins over a later one. A key written twice is
// a problem rather than a silent override.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	n = deref(n)
	if !d.enter(n, path, n.Line) {
		return nil
	}
	defer d.leave(n)

	explicit := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if isMergeKey(k) {
			continue
		}
		kv := deref(k)
		if kv.Kind != yaml.ScalarNode {
			d.ps.add(path, k.Line, "a key must be a plain value, not a list or mapping")
			continue
		}
		if first, dup := explicit[kv.Value]; dup {
			d.ps.add(keyPath(path, k), k.Line, "is set twice (first on line %d)", first)
			continue
		}
		explicit[kv.Value] = k.Line
	}

	var out []entry
	added := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			for _, e := range d.merged(v, path) {
				if _, ok := explicit[e.key]; !ok && !added[e.key] {
					added[e.key] = true
					out = append(out, e)
				}
			}
			continue
		}
		kv := deref(k)
		if kv.Kind != yaml.ScalarNode || added[kv.Value] {
			continue
		}
		added[kv.Value] = true
		out = append(out, entry{key: kv.Value, keyLine: k.Line, path: keyPath(path, k), value: v})
	}
	return out
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == mergeTag
}

// merged returns the entries a merge key brings in: those of one mapping, or
// of each mapping of a list in order.
func (d *decoder) merged(v *yaml.Node, path string) []entry {
	src := deref(v)
	switch src.Kind {
	case yaml.MappingNode:
		return d.entries(src, path)
	case yaml.SequenceNode:
		if !d.enter(src, path, v.Line) {
			return nil
		}
		defer d.leave(src)
		var out []entry
		for _, item := range src.Content {
			if deref(item).Kind != yaml.MappingNode {
				d.ps.add(path, item.Line, "<< must merge a mapping or a list of mappings")
				continue
			}
			out = append(out, d.entries(item, path)...)
		}
		return out
	}
	d.ps.add(path, v.Line, "<< must merge a mapping or a list of mappings")
	return nil
}
