package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/idplug/idplug/host/config/internal/walk"
	"go.yaml.in/yaml/v3"
)

// Environment references are replaced in scalar values after the file has been
// parsed, not in the raw text before it: a value taken from the environment can
// then never change the structure of the document (a secret holding ": ", "#",
// "[" or a newline stays one string), and every line number still points at
// the text the operator wrote. Mapping keys are not interpolated.
//
// A plain (unquoted) scalar is typed again after replacement, as if its new
// text had been written in the file, so `port: ${PORT}` gives the plugin a
// number; a quoted scalar always stays a string.

// interpolator replaces the references of a document.
type interpolator struct {
	env lookup
	ps  *walk.Problems
	// room is what the values holding references may still take, once
	// replaced (MaxInterpolatedSize in all); over is set when one would pass
	// it, and then nothing more is replaced.
	room int
	over bool
}

// interpolate replaces environment references in every scalar value below n.
// Aliases are skipped: the anchored node they point to is handled where it is
// defined, so each scalar is replaced exactly once.
func (in *interpolator) interpolate(n *yaml.Node, path *walk.Path) {
	if in.over {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			in.interpolate(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			in.interpolate(n.Content[i+1], path.Key(walk.Deref(n.Content[i]).Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			in.interpolate(c, path.Item(i))
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		in.env.files.field, in.env.files.pos = path, walk.PosOf(n)
		value, errs, over := expand(n.Value, in.env, in.room)
		if over {
			in.over = true
			in.ps.AddFailed(path, walk.PosOf(n), "once references are replaced, the values holding them come to more than %d MiB in all; "+
				"this one passes the limit", MaxInterpolatedSize>>20)
			return
		}
		for _, e := range errs {
			in.ps.AddFailed(path, walk.PosOf(n), "%s", e)
		}
		if len(errs) > 0 {
			return
		}
		in.room -= len(value)
		in.ps.Replaced(value, n.Value)
		n.Value = value
		if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			n.Tag = (&yaml.Node{Kind: yaml.ScalarNode, Value: value}).ShortTag()
		}
	}
}

// lookup resolves references: environment variables, and files relative to the
// configuration file's folder, read through files (see secretset.go).
type lookup struct {
	env     func(string) (string, bool)
	baseDir string
	files   *secretFiles
	// replaced, when set, is told what each reference read and how it was
	// written, so that problems quote the reference, not what it read.
	replaced func(value, written string)
}

// read tells l.replaced that the reference written as written read value.
func (l lookup) read(value, written string) {
	if l.replaced != nil {
		l.replaced(value, written)
	}
}

// expand replaces ${NAME}, ${NAME:-default}, ${file:PATH} and $$ in s. A "$"
// followed by anything else is kept as it is, so most literal dollar signs need no
// escape. ${NAME:-default} uses default when NAME is unset or empty, as in a shell,
// and default may hold references of its own (${KEY:-${file:/run/secrets/key}}),
// replaced only when it is used: written as text, it had made a session key of
// the reference's own words. A default with a reference is read as a value is
// ($$ is $); one without stays as written. over reports a result longer than
// room, given up as soon as it is known.
func expand(s string, env lookup, room int) (value string, errs []string, over bool) {
	return expandAt(s, env, room, 0)
}

// maxDefaultDepth bounds defaults within defaults.
const maxDefaultDepth = 4

// closing is the index in s of the "}" that closes a reference whose body
// starts at s[0], past the braces nested in it (references, and the braces
// of a literal "$${...}"); -1 when there is none.
func closing(s string) int {
	depth := 1
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '{'):
			i++
			if s[i] == '{' {
				depth++
			}
		case s[i] == '{':
			depth++
		case s[i] == '}':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

func expandAt(s string, env lookup, room, depth int) (value string, errs []string, over bool) {
	var b strings.Builder
	// add writes what a reference stands for, unless that passes room.
	add := func(v string) bool {
		if b.Len()+len(v) > room {
			return false
		}
		b.WriteString(v)
		return true
	}
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			// A reference ends at its first "}", as it always has, unless
			// its default holds references of its own: then at the "}"
			// that balances its braces.
			end := strings.IndexByte(s[i+2:], '}')
			if end >= 0 {
				if _, def, ok := strings.Cut(s[i+2:i+2+end], ":-"); ok && strings.Contains(def, "${") {
					end = closing(s[i+2:])
				}
			}
			if end < 0 {
				errs = append(errs, `"${" has no closing "}" (write $$ for a literal $)`)
				return s, errs, false
			}
			body := s[i+2 : i+2+end]
			i += 2 + end + 1
			if path, ok := strings.CutPrefix(body, "file:"); ok {
				if strings.Contains(path, "${") {
					errs = append(errs, `a ${file:PATH} reference takes a path as written, without references in it`)
					continue
				}
				v, err := env.files.value(path, env.baseDir)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				env.read(v, "${file:"+path+"}")
				if !add(v) {
					return "", nil, true
				}
				continue
			}
			name, def, hasDef := strings.Cut(body, ":-")
			if !isVarName(name) {
				// Quoted without its default, which may be a secret.
				shown := "${" + name + "}"
				if hasDef {
					shown = "${" + name + ":-...}"
				}
				errs = append(errs, fmt.Sprintf("%s is not a valid reference: use ${NAME}, ${NAME:-default} or ${file:PATH}, and $$ for a literal $", strconv.Quote(shown)))
				continue
			}
			v, ok := env.env(name)
			switch {
			case ok && (v != "" || !hasDef):
				env.read(v, "${"+name+"}")
				if !add(v) {
					return "", nil, true
				}
			case hasDef && strings.Contains(def, "${"):
				// Read as a value is ($$ is $); a default without a
				// reference stays as written, as it always has.
				if depth == maxDefaultDepth {
					errs = append(errs, fmt.Sprintf("the default of ${%s:-...} nests references more than %d deep", name, maxDefaultDepth))
					continue
				}
				v, defErrs, defOver := expandAt(def, env, room-b.Len(), depth+1)
				if defOver {
					return "", nil, true
				}
				errs = append(errs, defErrs...)
				b.WriteString(v)
			case hasDef:
				b.WriteString(def) // written in the file
			default:
				errs = append(errs, fmt.Sprintf("environment variable %s is not set", name))
			}
		default:
			b.WriteByte('$')
			i++
		}
	}
	if b.Len() > room {
		return "", nil, true
	}
	return b.String(), errs, false
}

// isVarName reports whether s is a portable environment variable name.
func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
