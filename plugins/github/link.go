package main

import (
	"errors"
	"strings"
)

// link is one link-value of a Link header (RFC 8288): its target, as written
// between < and >, and its relation types, lowercased.
type link struct {
	target string
	rel    []string
}

// Link header syntax errors. They say where the header breaks the grammar,
// never what it holds.
var (
	errLinkTarget = errors.New(`a link does not start with "<" or its target has no ">"`)
	errLinkParam  = errors.New(`a link parameter is not "; name" or "; name=value"`)
	errLinkQuote  = errors.New("a quoted parameter value does not end")
)

// parseLinks reads every link-value of the Link header lines given (RFC 8288
// section 3: `<target>; rel="next", <target>; rel=last`). Commas and semicolons
// count only outside <...> and quoted strings, a quoted string's backslash
// escapes its next character, and a rel after the first of a link is ignored
// (section 3.3). A line that breaks the grammar is an error: which pages it
// named cannot be told.
func parseLinks(lines []string) ([]link, error) {
	var links []link
	for _, s := range lines {
		for {
			s = strings.TrimLeft(s, " \t")
			if s == "" {
				break
			}
			if s[0] == ',' { // empty list elements are allowed (RFC 9110 5.6.1)
				s = s[1:]
				continue
			}
			end := strings.IndexByte(s, '>')
			if s[0] != '<' || end < 0 {
				return nil, errLinkTarget
			}
			l := link{target: s[1:end]}
			s = s[end+1:]
			relSeen := false
			for {
				s = strings.TrimLeft(s, " \t")
				if s == "" || s[0] == ',' {
					break
				}
				if s[0] != ';' {
					return nil, errLinkParam
				}
				var name, value string
				name, s = cutToken(strings.TrimLeft(s[1:], " \t"))
				if name == "" {
					return nil, errLinkParam
				}
				s = strings.TrimLeft(s, " \t")
				if s != "" && s[0] == '=' {
					s = strings.TrimLeft(s[1:], " \t")
					if s != "" && s[0] == '"' {
						var err error
						if value, s, err = cutQuoted(s); err != nil {
							return nil, err
						}
					} else if value, s = cutToken(s); value == "" {
						return nil, errLinkParam
					}
				}
				if strings.EqualFold(name, "rel") && !relSeen {
					relSeen = true
					l.rel = strings.Fields(strings.ToLower(value))
				}
			}
			links = append(links, l)
		}
	}
	return links, nil
}

// cutToken splits s after its leading token (RFC 9110 5.6.2).
func cutToken(s string) (token, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// cutQuoted splits s, which starts with a quote, after its quoted string
// (RFC 9110 5.6.4), and returns the string's value unescaped.
func cutQuoted(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", errLinkQuote
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errLinkQuote
}
