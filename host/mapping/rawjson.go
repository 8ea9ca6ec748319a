package mapping

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// parseJSON decodes data into the CEL values decodeJSON's result converts
// to: objects as maps and arrays as lists of CEL values, whole numbers that
// fit as ints, other numbers as doubles. It is a fraction of encoding/json's
// cost on the small documents providers return (no reflection, one
// allocation per value, and one pass: it checks the grammar as it goes
// rather than after json.Valid's own pass), and it builds CEL's values once:
// a map of Go values would convert a value again each time an expression
// reads it. It reports false for what it leaves to encoding/json: anything
// that is not one valid JSON document, strings with escapes or bytes that
// are not UTF-8, and nesting deeper than maxRawDepth.
func parseJSON(data []byte) (ref.Val, bool) {
	// The strings are slices of one copy of data: one allocation for all.
	p := jsonParser{data: data, text: string(data)}
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.i == len(p.data) // nothing may follow the document
}

const maxRawDepth = 1000

type jsonParser struct {
	data []byte
	text string // data
	i    int
}

func (p *jsonParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips space and reports whether the next byte is c, consuming it if so.
func (p *jsonParser) next(c byte) bool {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// literal consumes word if data continues with it.
func (p *jsonParser) literal(word string) bool {
	if len(p.data)-p.i >= len(word) && p.text[p.i:p.i+len(word)] == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jsonParser) value(depth int) (ref.Val, bool) {
	if depth > maxRawDepth {
		return nil, false
	}
	p.space()
	if p.i >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		p.i++
		m := map[ref.Val]ref.Val{}
		if p.next('}') {
			return types.NewRefValMap(types.DefaultTypeAdapter, m), true
		}
		for {
			p.space()
			k, ok := p.str()
			if !ok || !p.next(':') {
				return nil, false
			}
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[types.String(k)] = v
			if p.next('}') {
				return types.NewRefValMap(types.DefaultTypeAdapter, m), true
			}
			if !p.next(',') {
				return nil, false
			}
		}
	case c == '[':
		p.i++
		l := []ref.Val{}
		if p.next(']') {
			return types.NewRefValList(types.DefaultTypeAdapter, l), true
		}
		for {
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			l = append(l, v)
			if p.next(']') {
				return types.NewRefValList(types.DefaultTypeAdapter, l), true
			}
			if !p.next(',') {
				return nil, false
			}
		}
	case c == '"':
		s, ok := p.str()
		return inputString(s), ok
	case c == 't':
		return types.True, p.literal("true")
	case c == 'f':
		return types.False, p.literal("false")
	case c == 'n':
		return types.NullValue, p.literal("null")
	default:
		start := p.i
		if !p.number() {
			return nil, false
		}
		s := p.text[start:p.i]
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return types.Int(i), true // the common case, without a call
		}
		return inputNumber(s), true
	}
}

// number consumes a number as JSON writes it:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (p *jsonParser) number() bool {
	if p.i < len(p.data) && p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case !p.digits():
		return false
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if !p.digits() {
			return false
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return false
		}
	}
	return true
}

// digits consumes one digit or more.
func (p *jsonParser) digits() bool {
	start := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// str reads a string without escapes or control characters, all of it valid
// UTF-8.
func (p *jsonParser) str() (string, bool) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for j := start; j < len(p.data); j++ {
		switch c := p.data[j]; {
		case c == '"':
			if !utf8.Valid(p.data[start:j]) {
				return "", false
			}
			p.i = j + 1
			return p.text[start:j], true
		case c == '\\', c < 0x20:
			return "", false
		}
	}
	return "", false
}

// decodeJSON is the general path: encoding/json with numbers as numbers().
// It decodes the first value of data (what follows is not read).
func decodeJSON(data []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}
