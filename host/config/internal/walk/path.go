package walk

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Path names a value in the document, such as connectors[1].config.scope.
// It is a linked list rendered only when a problem is reported, so walking a
// large document costs one small allocation per value, not one string.
type Path struct {
	parent *Path
	name   string // mapping key, when index < 0
	index  int    // list index, or -1
}

// maxKeyInPath keeps problems readable when a key is absurdly long.
const maxKeyInPath = 64

// Key returns the path of the value under mapping key name.
func (p *Path) Key(name string) *Path {
	return &Path{parent: p, name: name, index: -1}
}

// Item returns the path of list item i.
func (p *Path) Item(i int) *Path {
	return &Path{parent: p, index: i}
}

// String renders the path; the root (nil) is "".
func (p *Path) String() string {
	var segs []*Path
	for q := p; q != nil; q = q.parent {
		segs = append(segs, q)
	}
	var b strings.Builder
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		if s.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		name := s.name
		if len(name) > maxKeyInPath {
			name = name[:maxKeyInPath]
			for !utf8.ValidString(name) {
				name = name[:len(name)-1]
			}
			name += "..."
		}
		b.WriteString(name)
	}
	return b.String()
}
