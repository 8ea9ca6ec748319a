package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// fieldPath names a value in the document, such as connectors[1].config.scope.
// It is a linked list rendered only when a problem is reported, so walking a
// large document costs one small allocation per value, not one string.
type fieldPath struct {
	parent *fieldPath
	name   string // mapping key, when index < 0
	index  int    // list index, or -1
}

// maxKeyInPath keeps problems readable when a key is absurdly long.
const maxKeyInPath = 64

// key returns the path of the value under mapping key name.
func (p *fieldPath) key(name string) *fieldPath {
	return &fieldPath{parent: p, name: name, index: -1}
}

// item returns the path of list item i.
func (p *fieldPath) item(i int) *fieldPath {
	return &fieldPath{parent: p, index: i}
}

// String renders the path; the root (nil) is "".
func (p *fieldPath) String() string {
	var segs []*fieldPath
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
