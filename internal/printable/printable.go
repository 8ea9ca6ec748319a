// Package printable writes text a plugin sent so that a terminal, or a person
// reading a log, sees it as text: a character that would move the cursor,
// start a line, run a terminal's escape sequence (ESC, the C1 controls) or
// reorder what is shown (the bidirectional controls) is written as an escape,
// in Go's notation as hclog writes a quoted value (\n, \x1b, \u009b). Other
// text, whatever its script, stays as it is; invalid UTF-8 becomes U+FFFD.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line is s with every control character escaped, line breaks and tabs
// included: one line of output, whatever s holds.
func Line(s string) string { return escape(s, false) }

// Block is s with every control character escaped but its line breaks (\n)
// and tabs, for text of several lines such as a readme.
func Block(s string) string { return escape(s, true) }

// Clean reports whether Line leaves s as it is: s is valid UTF-8 and holds
// no character Line escapes.
func Clean(s string) bool { return clean(s, false) }

func clean(s string, block bool) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return false
			}
		}
		if escaped(r, block) {
			return false
		}
	}
	return true
}

func escape(s string, block bool) string {
	if clean(s, block) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				b.WriteRune(utf8.RuneError) // an invalid byte
				continue
			}
		}
		if !escaped(r, block) {
			b.WriteRune(r)
			continue
		}
		switch r {
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		default:
			const hex = "0123456789abcdef"
			if r < utf8.RuneSelf {
				b.WriteString(`\x`)
				b.WriteByte(hex[r>>4])
				b.WriteByte(hex[r&0xf])
				continue
			}
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hex[r>>shift&0xf])
			}
		}
	}
	return b.String()
}

// escaped says whether r is written as an escape: the C0 and C1 controls and
// DEL, the line and paragraph separators, and the bidirectional controls
// (which make a line read in another order than it is written, as in the
// "Trojan Source" attacks). A block keeps its line breaks and tabs.
func escaped(r rune, block bool) bool {
	switch {
	case block && (r == '\n' || r == '\t'):
		return false
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f', '\u202a' <= r && r <= '\u202e', '\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}

// Cut is the longest start of s of at most n bytes that ends on a rune
// boundary, so a cut never splits a character.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// JSON rewrites the characters escaped would escape that encoding/json leaves
// as they are (the C1 controls, DEL, the bidirectional controls) as \uXXXX
// escapes. The JSON means the same, and a terminal shown it runs none of them.
// encoding/json has escaped the C0 controls and the separators already.
func JSON(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != '\n' && r != '\t' && escaped(r, false) && r >= 0x7f {
			if out == nil {
				out = append(make([]byte, 0, len(b)+16), b[:i]...)
			}
			out = fmt.Appendf(out, `\u%04x`, r)
		} else if out != nil {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	if out == nil {
		return b
	}
	return out
}
