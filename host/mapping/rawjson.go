package mapping

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// parseJSON decodes data, which json.Valid accepted, into the CEL values
// decodeJSON's result converts to: objects as maps and arrays as lists of CEL
// values, whole numbers that fit as ints, other numbers as doubles. It is a
// fraction of encoding/json's cost on the small documents providers return
// (no reflection, one allocation per value), and it builds CEL's values once:
// a map of Go values would convert a value again each time an expression
// reads it. It reports false for what it leaves to encoding/json: strings
// with escapes or bytes that are not UTF-8, and nesting deeper than
// maxRawDepth.
func parseJSON(data []byte) (ref.Val, bool) {
	// The strings are slices of one copy of data: one allocation for all.
	p := jsonParser{data: data, text: string(data)}
	v, ok := p.value(0)
	return v, ok
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
		p.space()
		if p.data[p.i] == '}' {
			p.i++
			return types.NewRefValMap(types.DefaultTypeAdapter, m), true
		}
		for {
			p.space()
			k, ok := p.str()
			if !ok {
				return nil, false
			}
			p.space()
			p.i++ // ':'
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[types.String(k)] = v
			p.space()
			if p.data[p.i] == '}' {
				p.i++
				return types.NewRefValMap(types.DefaultTypeAdapter, m), true
			}
			p.i++ // ','
		}
	case c == '[':
		p.i++
		l := []ref.Val{}
		p.space()
		if p.data[p.i] == ']' {
			p.i++
			return types.NewRefValList(types.DefaultTypeAdapter, l), true
		}
		for {
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			l = append(l, v)
			p.space()
			if p.data[p.i] == ']' {
				p.i++
				return types.NewRefValList(types.DefaultTypeAdapter, l), true
			}
			p.i++ // ','
		}
	case c == '"':
		s, ok := p.str()
		return types.String(s), ok
	case c == 't':
		p.i += 4
		return types.True, true
	case c == 'f':
		p.i += 5
		return types.False, true
	case c == 'n':
		p.i += 4
		return types.NullValue, true
	default:
		start := p.i
		for p.i < len(p.data) {
			switch p.data[p.i] {
			case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				p.i++
				continue
			}
			break
		}
		s := string(p.data[start:p.i])
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return types.Int(i), true
		}
		f, _ := strconv.ParseFloat(s, 64)
		return types.Double(f), true
	}
}

// str reads a string without escapes, all of it valid UTF-8.
func (p *jsonParser) str() (string, bool) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for j := start; j < len(p.data); j++ {
		switch c := p.data[j]; {
		case c == '"':
			s := p.data[start:j]
			if !utf8.Valid(s) {
				return "", false
			}
			p.i = j + 1
			return p.text[start:j], true
		case c == '\\':
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
