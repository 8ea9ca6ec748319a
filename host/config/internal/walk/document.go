package walk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

const (
	// MaxNodes bounds the values visited while decoding, counting every
	// expansion of an alias, so that a small file of aliases cannot take the
	// process down ("billion laughs"). Every entry of a mapping and item of a
	// list counts each time it is listed: an alias to a mapping of a thousand
	// entries costs a thousand, not one. Real files are far below it.
	MaxNodes = 100_000
	// MaxText bounds the text (keys and values) of what is visited, counted
	// the same way: an alias to a long value costs its length each time, and
	// that text is copied where it is used (the plugins' settings as JSON, the
	// session keys). Without aliases a file holds at most 1 MiB of its own and
	// 4 MiB from references.
	MaxText = 16 << 20
	// MaxDepth bounds nesting, in the file and once aliases are expanded.
	MaxDepth = 64

	mergeTag = "!!merge"
)

// Parse parses data as one YAML document and returns its root node,
// or nil for an empty file.
func Parse(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(err, data)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(err, data)
	default:
		return nil, &Error{Problems: []Problem{{Line: extra.Line, Message: "a second YAML document starts here; the file must hold exactly one"}}}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		root = doc.Content[0]
	}
	if deep := tooDeep(root, 1); deep != nil {
		return nil, &Error{Problems: []Problem{{Line: deep.Line, Message: fmt.Sprintf("values are nested more than %d levels deep", MaxDepth)}}}
	}
	if n := oddTag(root); n != nil {
		also := ""
		if n.ShortTag() == "!!binary" {
			also = " (a !!binary value as its base64 text, not the bytes)"
		}
		return nil, &Error{Problems: []Problem{{Line: n.Line, Message: fmt.Sprintf("the YAML tag %s is not supported: its value would be read as plain text%s; write the value untagged", n.Tag, also)}}}
	}
	return root, nil
}

// readTags are the tags a configuration may carry: YAML's own for text,
// numbers, true/false, null, lists and mappings, and merge keys.
var readTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!seq": true, "!!map": true, mergeTag: true}

// oddTag returns a node with a tag that is none of readTags (!!binary, !!timestamp,
// a custom !tag), whose value the decoder would read as its plain text.
func oddTag(n *yaml.Node) *yaml.Node {
	if n.Style&yaml.TaggedStyle != 0 && !readTags[n.ShortTag()] {
		return n
	}
	for _, c := range n.Content {
		if odd := oddTag(c); odd != nil {
			return odd
		}
	}
	return nil
}

// tooDeep returns a node nested deeper than MaxDepth, if any.
func tooDeep(n *yaml.Node, depth int) *yaml.Node {
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
		return nil
	}
	if depth > MaxDepth {
		return n
	}
	for _, c := range n.Content {
		if deep := tooDeep(c, depth+1); deep != nil {
			return deep
		}
	}
	return nil
}

var (
	yamlLineRE      = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)
	unknownAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// parserProblems are the messages of the YAML library's parser (as opposed to
// its scanner). The library reports their line 0-based, and leaves the line
// out when it is the first one; syntaxError corrects that.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
}

// syntaxError turns a YAML library error into an *Error pointing at its line.
func syntaxError(err error, data []byte) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if parserProblems[msg] {
		line++
	}
	if m := unknownAnchorRE.FindStringSubmatch(err.Error()); m != nil {
		// The alias is often not one: a value written as it is that starts
		// with "*", a password say. Its name finds the line; the message
		// leaves it out.
		line = lineOf(data, "*"+m[1])
		msg = `a value starting with "*" reads as a reference to an anchor that is not defined; put the value in quotes`
	}
	if strings.HasPrefix(msg, "did not find expected ',' or") && bytes.Contains(data, []byte("${")) {
		// A plain ${NAME} cannot stand in a [...] or {...} list: "{" opens a
		// mapping there.
		msg += `; inside [...] or {...}, put references in quotes: ["${NAME}"]`
	}
	// The reader's encoding errors say no line: the first byte at fault does.
	utf16 := bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe})
	if line == 0 && !utf16 && (strings.Contains(msg, "UTF-8 octet") || msg == "control characters are not allowed") {
		if off, what := firstUnreadable(data); off >= 0 {
			line = bytes.Count(data[:off], []byte("\n")) + 1
			msg += " (" + what + ")"
		}
	}
	switch {
	case msg == "found character that cannot start any token" && lineHas(data, line, '\t'):
		msg += "; YAML indents with spaces, not tabs"
	case msg == "could not find expected ':'" && (gluedKey(lineText(data, line)) || gluedKey(lineText(data, line-1))):
		// key:value is one plain value to YAML, not a key and its value.
		msg += "; a key needs a space after its colon (key: value)"
	}
	return &Error{Problems: []Problem{{Line: line, Message: "YAML syntax: " + msg}}}
}

// firstUnreadable finds what YAML's reader refuses in a UTF-8 file: a byte
// that is not UTF-8, or a character YAML does not allow (YAML 1.2, 5.1: C0
// controls but tab and line breaks, DEL, C1 controls but NEL, surrogates,
// U+FFFE and U+FFFF). It returns its offset and what it is, or -1.
func firstUnreadable(data []byte) (int, string) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return i, fmt.Sprintf("byte 0x%02x, not UTF-8", data[i])
		case r == '\t', r == '\n', r == '\r', r == 0x85:
		case r < 0x20, r >= 0x7f && r < 0xa0, r == 0xfffe, r == 0xffff:
			return i, fmt.Sprintf("U+%04X", r)
		}
		i += size
	}
	return -1, ""
}

// lineText is the text of the 1-based line n of data, without its line break.
func lineText(data []byte, n int) []byte {
	if n < 1 {
		return nil
	}
	lines := bytes.SplitN(data, []byte("\n"), n+1)
	if len(lines) < n {
		return nil
	}
	return lines[n-1]
}

// gluedKey reports a line like "log_level:debug": a colon, none followed by a
// space, and not at the end (where a key opens a nested block).
func gluedKey(line []byte) bool {
	line = bytes.TrimSpace(line)
	return bytes.IndexByte(line, ':') > 0 && !bytes.Contains(line, []byte(": ")) && line[len(line)-1] != ':' &&
		!bytes.Contains(line, []byte("://"))
}

// lineHas reports whether line n of data holds c.
func lineHas(data []byte, n int, c byte) bool { return bytes.IndexByte(lineText(data, n), c) >= 0 }

// lineOf returns the 1-based line where s first occurs in data, or 0.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// Deref returns the node an alias stands for. Anchors cannot be put on
// aliases, so one step is enough.
func Deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// IsNull reports whether n, or the node it aliases, is null.
func IsNull(n *yaml.Node) bool {
	n = Deref(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Decoder walks the parsed document and records problems as it goes.
type Decoder struct {
	ps *Problems
	// budget is the number of values that may still be visited, text the
	// bytes of text; once either runs out, exhausted is set and nothing more
	// is visited.
	budget, text int
	exhausted    bool
	// active holds the collections being expanded, to catch an alias that
	// refers to a collection containing it, and to bound nesting.
	active map[*yaml.Node]bool
}

// NewDecoder returns a Decoder that records its problems in ps.
func NewDecoder(ps *Problems) *Decoder {
	return &Decoder{ps: ps, budget: MaxNodes, text: MaxText, active: map[*yaml.Node]bool{}}
}

// spend takes one value from the budget (see charge).
func (d *Decoder) spend(path *Path, p Pos) bool { return d.charge(path, p, 1, 0) }

// charge takes values and bytes of text from the budget, all or none. The
// first time it cannot, it reports the problem at path and p (where the
// expansion passed the limit) and stops ps: what would be reported after it
// (values that then read as missing) would only be its consequences.
func (d *Decoder) charge(path *Path, p Pos, values, text int) bool {
	if !d.exhausted && values <= d.budget && text <= d.text {
		d.budget -= values
		d.text -= text
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		if values > d.budget {
			d.ps.Add(path, p, "too many values once aliases are expanded: more than %d "+
				"(an alias counts again every value under its anchor)", MaxNodes)
		} else {
			d.ps.Add(path, p, "too much text once aliases are expanded: more than %d MiB "+
				"(an alias counts again the text of every value under its anchor)", MaxText>>20)
		}
		d.ps.Stop()
	}
	return false
}

// chargeContent charges for the entries of mapping n, or the items of list n:
// one value each, and the text of those that are keys or single values. It is
// called each time n is listed, whether through an alias or not, and before
// any of that work is done.
func (d *Decoder) chargeContent(n *yaml.Node, path *Path, p Pos) bool {
	text := 0
	for _, c := range n.Content {
		if c = Deref(c); c.Kind == yaml.ScalarNode {
			text += len(c.Value)
		}
	}
	values := len(n.Content)
	if n.Kind == yaml.MappingNode {
		values /= 2
	}
	return d.charge(path, p, values, text)
}

// Items returns the items of list n for a caller that walks them itself,
// having charged for them; nil once the budget is exhausted.
func (d *Decoder) Items(n *yaml.Node, path *Path, p Pos) []*yaml.Node {
	n = Deref(n)
	if !d.chargeContent(n, path, p) {
		return nil
	}
	return n.Content
}

// Enter marks collection n as being expanded; it reports false, with a
// problem, when n already is (an alias that contains itself) or when
// expansion is too deep or too large. Every true enter needs a leave.
func (d *Decoder) Enter(n *yaml.Node, path *Path, p Pos) bool {
	switch {
	case d.active[n]:
		d.ps.Add(path, p, "refers to itself through an alias")
		return false
	case len(d.active) >= MaxDepth:
		d.ps.Add(path, p, "is nested more than %d levels deep once aliases are expanded", MaxDepth)
		return false
	case !d.spend(path, p):
		return false
	}
	d.active[n] = true
	return true
}

// Leave ends what a successful Enter began.
func (d *Decoder) Leave(n *yaml.Node) { delete(d.active, n) }

// Entry is one key and value of a mapping.
type Entry struct {
	Key    string
	KeyPos Pos
	Path   *Path
	// Value is the node as written, possibly an alias.
	Value *yaml.Node
}

// Entries lists the entries of mapping n (see mappingEntries) for a caller
// that does not descend into the values itself.
func (d *Decoder) Entries(n *yaml.Node, path *Path, p Pos) []Entry {
	n = Deref(n)
	if !d.Enter(n, path, p) {
		return nil
	}
	defer d.Leave(n)
	return d.mappingEntries(n, path, p)
}

// mappingEntries lists the entries of mapping n in order, having charged for
// them (nil once the budget is exhausted); the caller has entered n. Merge keys
// ("<<: *base") are expanded as YAML defines them: keys written in n win over
// merged ones, and an earlier merged mapping wins over a later one. A key
// written twice is a problem rather than a silent override.
func (d *Decoder) mappingEntries(n *yaml.Node, path *Path, p Pos) []Entry {
	if !d.chargeContent(n, path, p) {
		return nil
	}
	explicit := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if isMergeKey(k) {
			continue
		}
		kv := Deref(k)
		if kv.Kind != yaml.ScalarNode {
			d.ps.Add(path, PosOf(k), "a key must be a plain value, not a list or mapping")
			continue
		}
		if first, dup := explicit[kv.Value]; dup {
			d.ps.Add(path.Key(kv.Value), PosOf(k), "is set twice (first on line %d)", first.Line)
			continue
		}
		explicit[kv.Value] = PosOf(k)
	}

	var out []Entry
	added := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			for _, e := range d.merged(v, path) {
				if _, ok := explicit[e.Key]; !ok && !added[e.Key] {
					added[e.Key] = true
					out = append(out, e)
				}
			}
			continue
		}
		kv := Deref(k)
		if kv.Kind != yaml.ScalarNode || added[kv.Value] {
			continue
		}
		added[kv.Value] = true
		out = append(out, Entry{Key: kv.Value, KeyPos: PosOf(k), Path: path.Key(kv.Value), Value: v})
	}
	return out
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == mergeTag
}

// merged returns the entries a merge key brings in: those of one mapping, or
// of each mapping of a list in order.
func (d *Decoder) merged(v *yaml.Node, path *Path) []Entry {
	src := Deref(v)
	switch src.Kind {
	case yaml.MappingNode:
		return d.Entries(src, path, PosOf(v))
	case yaml.SequenceNode:
		if !d.Enter(src, path, PosOf(v)) {
			return nil
		}
		defer d.Leave(src)
		var out []Entry
		for _, item := range src.Content {
			if Deref(item).Kind != yaml.MappingNode {
				d.ps.Add(path, PosOf(item), "<< must merge a mapping or a list of mappings")
				continue
			}
			out = append(out, d.Entries(item, path, PosOf(item))...)
		}
		return out
	}
	d.ps.Add(path, PosOf(v), "<< must merge a mapping or a list of mappings")
	return nil
}
