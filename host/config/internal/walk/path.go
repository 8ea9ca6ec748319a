package walk

import (
	"regexp"
	"strconv"
	"strings"
)

// Path names a value in the document, such as connectors[1].config.scope.
// It is a linked list rendered only when a problem is reported, so walking a
// large document costs one small allocation per value, not one string.
type Path struct {
	parent *Path
	name   string // mapping key, when index < 0
	index  int    // list index, or -1
}

// HiddenKey stands in a path for a key that KeyName does not show.
const HiddenKey = "<unknown key>"

// keyNameRE is the shape of a key name: that of the file's own keys
// (plugin_dir), of a plugin's settings (clientId, x509Certificate: connector
// configs are written in camelCase, Logto's field names too), of claim names
// (urn:acme:role), language tags (pt-BR) and plugin names, the last with the
// "*" of a name prefix (logto-*).
var keyNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]{0,63}\*?$`)

// KeyName reports whether key looks like the name of a setting, and may be
// shown in a problem. A key can be a secret written where YAML reads a key,
// as in the shorthand "- <api key>: [admin]" for {key: <api key>, scopes:
// [admin]}, and problems are printed by idplug validate, logged and answered
// to a reload: a key is shown only when it has the shape of a name and does
// not read like random text. Base64 with + / or = fails the shape, as does
// punctuation other than _ . : -; hex has more than 4 digits; letters and
// digits drawn at random (base64url, most generated client secrets) make many
// words of one character (aB3x is a, B, 3, x), where names make words
// (accessKeyId is access, Key, Id; x509Certificate is x, 509, Certificate).
// A short random key can still pass, as a short word would.
func KeyName(key string) bool {
	if !keyNameRE.MatchString(key) {
		return false
	}
	digits, singles := 0, 0
	for i := 0; i < len(key); {
		j := i + 1
		switch c := key[i]; {
		case isDigit(c):
			for j < len(key) && isDigit(key[j]) {
				j++
			}
			digits += j - i
		case isLower(c):
			for j < len(key) && isLower(key[j]) {
				j++
			}
		case isUpper(c):
			// An upper case run is an acronym (OS, HTTPS), but its last
			// letter starts a word when lower case follows (iOSClient:
			// OS, Client); one upper case letter starts a word (Key).
			for j < len(key) && isUpper(key[j]) {
				j++
			}
			if j-i == 1 {
				for j < len(key) && isLower(key[j]) {
					j++
				}
			} else if j < len(key) && isLower(key[j]) {
				j--
			}
		default: // a separator: _ . : - *
			i = j
			continue
		}
		if j-i == 1 {
			singles++
		}
		i = j
	}
	return digits <= 4 && singles <= 2
}

// ShowKey returns key when KeyName shows it, HiddenKey otherwise.
func ShowKey(key string) string {
	if KeyName(key) {
		return key
	}
	return HiddenKey
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// Key returns the path of the value under mapping key name.
func (p *Path) Key(name string) *Path {
	return &Path{parent: p, name: name, index: -1}
}

// Item returns the path of list item i.
func (p *Path) Item(i int) *Path {
	return &Path{parent: p, index: i}
}

// String renders the path; the root (nil) is "". A key KeyName does not show
// is rendered as HiddenKey: the problem's line tells where it is.
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
		b.WriteString(ShowKey(s.name))
	}
	return b.String()
}
