package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// decodeRaw turns the connector's raw data into CEL values. Whole numbers
// become ints (GitHub's numeric user id prints as 12345, not 1.2345e+04);
// other numbers doubles, or errors when no 64-bit type holds them
// (inputNumber). No raw data is an empty map.
func decodeRaw(data json.RawMessage) ref.Val {
	if len(bytes.TrimSpace(data)) == 0 {
		return types.DefaultTypeAdapter.NativeToValue(map[string]any{})
	}
	// A value takes a byte at least: a shorter document needs no count.
	if len(data) >= MaxRawValues {
		if n := rawValues(data); n > MaxRawValues {
			return types.NewErr("the connector's raw data holds some %d values, over the mapping's limit of %d", n, MaxRawValues)
		}
	}
	if v, ok := parseJSON(data); ok {
		return v
	}
	v, err := decodeJSON(data)
	if err != nil {
		return types.NewErr("the connector's raw data is not JSON")
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}

// MaxRawValues bounds the values (and keys) of the raw data a mapping reads.
// The decode makes a CEL value of each, outside the mapping's cost limit: 1
// MiB of empty lists had become some 350,000 values, 68 MB allocated and
// a few hundred milliseconds at each sign-in. Past it, raw is an error, and
// only the expressions that read it fail (an allow rule refuses). Providers'
// profiles hold tens of values, a list of groups some thousands; under the
// bound, the decode allocates some 13 MB at most, and what an expression then
// does with the values is the cost limit's.
const MaxRawValues = 65536

// rawValues is an upper bound on the values and keys of the JSON document
// data: each follows a '[', '{', ',' or ':' outside a string, or starts it.
func rawValues(data []byte) int {
	n, inString, escaped := 1, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[', c == '{', c == ',', c == ':':
			n++
		}
	}
	return n
}

// MaxInputString bounds a string a mapping reads from the profile or the raw
// data: none longer could be part of what it yields (MaxResultBytes), and CEL's
// cost tracker counts a string's characters at each comparison it makes, so an
// email of hundreds of kilobytes compared in a comprehension took seconds of
// CPU before the cost limit saw it. A longer string reads as an error: a
// mapping that touches it fails (mapping_failed), one that does not is unmoved.
const MaxInputString = MaxResultBytes

// inputString is s as a mapping reads it (see MaxInputString).
func inputString(s string) ref.Val {
	if len(s) > MaxInputString {
		return types.NewErr("a string of the profile is %d bytes, over the mapping's limit of %d", len(s), MaxInputString)
	}
	return types.String(s)
}

// inputNumber is a JSON number as a mapping reads it: an int, a uint past
// the int range, or else a double when it holds the number as written. Any
// other (an id of 21 digits, 1.2345678901234567891e19) reads as an error: as
// the nearest double, two such ids had been one user, with one subject at the
// OpenID Provider and one vault record.
func inputNumber(s string) ref.Val {
	return types.DefaultTypeAdapter.NativeToValue(numberValue(s))
}

// numberValue is inputNumber in Go's types (an int64, a uint64, a float64),
// or its error.
func numberValue(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return u
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && exactDouble(s, f) {
		return f
	}
	return types.NewErr("a number of the profile has more digits than a 64-bit integer or a double holds")
}

// exactDouble says whether f, parsed from the JSON number s, is the number s
// writes: whether f's shortest decimal form is equal to it. 0.1 is (a double
// prints it as 0.1); 12345678901234567891.5 is not. An exponent past a
// double's range is not even looked at: as a fraction it would take
// gigabytes.
func exactDouble(s string, f float64) bool {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp < -400 || exp > 400 {
			return false
		}
	}
	if len(s) > 64 {
		return false
	}
	var written, read big.Rat
	if _, ok := written.SetString(s); !ok {
		return false
	}
	_, ok := read.SetString(strconv.FormatFloat(f, 'g', -1, 64))
	return ok && written.Cmp(&read) == 0
}

// numbers replaces each json.Number in v with its inputNumber, and
// each string over MaxInputString with its error.
func numbers(v any) any {
	switch x := v.(type) {
	case string:
		if len(x) > MaxInputString {
			return inputString(x)
		}
	case json.Number:
		return numberValue(string(x))
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

var errTooLarge = errors.New("over the size limit")

// toJSON converts a CEL value to what encoding/json writes, charging budget
// for its size as it goes: a list built by doubling a list over and over is
// small to CEL (lists are concatenated lazily) but is stopped here after the
// first MaxResultBytes of it, not walked whole. null and an empty optional are
// nil.
func toJSON(v ref.Val, budget *int, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("yields a value nested deeper than %d", maxValueDepth)
	}
	var out any
	switch x := v.(type) {
	case types.String:
		*budget -= jsonLen(string(x)) + 2
		out = string(x)
	case types.Bool:
		*budget -= 5
		out = bool(x)
	case types.Int:
		*budget -= 20
		out = int64(x)
	case types.Uint:
		*budget -= 20
		out = uint64(x)
	case types.Double:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, errors.New("yields NaN or an infinity, which JSON cannot hold")
		}
		*budget -= 24
		out = float64(x)
	case types.Null:
		*budget -= 4
		return nil, nil
	case *types.Optional:
		if !x.HasValue() {
			return nil, nil
		}
		return toJSON(x.GetValue(), budget, depth)
	case traits.Mapper:
		m := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			if *budget < 0 {
				return nil, errTooLarge
			}
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("yields a map with a %s key; JSON keys are strings", k.Type().TypeName())
			}
			*budget -= jsonLen(string(ks)) + 4
			e, err := toJSON(x.Get(k), budget, depth+1)
			if err != nil {
				return nil, err
			}
			m[string(ks)] = e
		}
		out = m
	case traits.Lister:
		l := []any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			if *budget < 0 {
				return nil, errTooLarge
			}
			*budget--
			e, err := toJSON(it.Next(), budget, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, e)
		}
		out = l
	case *types.Err:
		return nil, x
	default:
		return nil, fmt.Errorf("yields a %s, which JSON cannot hold", v.Type().TypeName())
	}
	if *budget < 0 {
		return nil, errTooLarge
	}
	return out, nil
}

// jsonLen is the length of s as encoding/json writes it, quotes aside: the
// budget is of the result as JSON, and 16 KiB of '<' is 96 KiB there
// (\u003c). It may count a little over, never under.
func jsonLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n++ // \" \\ \n \r \t
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 5 // \u00XX
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 5 // one byte becomes \ufffd
		case r == '\u2028' || r == '\u2029':
			n += 3 // three bytes become \u2028
		}
		i += size
	}
	return n
}
