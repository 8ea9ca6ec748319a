package walk

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A mapping that belongs to someone else (a plugin's settings) is handed on as
// JSON. The conversion works on the YAML nodes rather than on decoded Go values so
// that keys keep their exact spelling and order, and numbers keep their exact
// value: an integer too large for 64 bits is written digit for digit instead of
// going through float64.

var (
	decimalRE    = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)
	jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
)

// ToJSON appends the JSON form of n to buf. The entries and items below n are
// charged to the budget as they are listed; n itself was, by whoever listed it.
func (d *Decoder) ToJSON(buf *bytes.Buffer, n *yaml.Node, path *Path) {
	v := Deref(n)
	switch v.Kind {
	case yaml.MappingNode:
		// The mapping stays entered while its values are converted, so that
		// a value aliasing the mapping itself is caught.
		if !d.Enter(v, path, PosOf(n)) {
			buf.WriteString("null")
			return
		}
		defer d.Leave(v)
		entries := d.mappingEntries(v, path, PosOf(n))
		buf.WriteByte('{')
		for i, e := range entries {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, e.Key)
			buf.WriteByte(':')
			d.ToJSON(buf, e.Value, e.Path)
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		if !d.Enter(v, path, PosOf(n)) {
			buf.WriteString("null")
			return
		}
		defer d.Leave(v)
		buf.WriteByte('[')
		for i, item := range d.Items(v, path, PosOf(n)) {
			if i > 0 {
				buf.WriteByte(',')
			}
			d.ToJSON(buf, item, path.Item(i))
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		d.scalarJSON(buf, v, path, PosOf(n))
	default:
		buf.WriteString("null")
	}
}

func (d *Decoder) scalarJSON(buf *bytes.Buffer, v *yaml.Node, path *Path, p Pos) {
	switch v.ShortTag() {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := v.Decode(&b); err != nil {
			d.ps.Add(path, p, "%q is not a valid boolean", v.Value)
			buf.WriteString("null")
			return
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int":
		var i int64
		if err := v.Decode(&i); err == nil {
			buf.WriteString(strconv.FormatInt(i, 10))
			return
		}
		var u uint64
		if err := v.Decode(&u); err == nil {
			buf.WriteString(strconv.FormatUint(u, 10))
			return
		}
		if !writeBigInt(buf, v.Value) {
			d.ps.Add(path, p, "%q is not a valid integer", v.Value)
			buf.WriteString("null")
		}
	case "!!float":
		// A plain integer too large for 64 bits is typed as a float by the
		// YAML library; keep its digits.
		if writeBigInt(buf, v.Value) {
			return
		}
		var f float64
		if err := v.Decode(&f); err != nil {
			d.ps.Add(path, p, "%q is not a valid number", v.Value)
			buf.WriteString("null")
			return
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.ps.Add(path, p, "%s cannot be represented in JSON", v.Value)
			buf.WriteString("null")
			return
		}
		if jsonNumberRE.MatchString(v.Value) {
			buf.WriteString(v.Value) // keeps the written precision, e.g. 1.50
			return
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	default:
		// Strings, and also timestamps and other tagged scalars: the reader
		// receives the text as written.
		writeJSONString(buf, v.Value)
	}
}

// writeBigInt writes s as an exact JSON integer when it is a decimal integer.
func writeBigInt(buf *bytes.Buffer, s string) bool {
	if !decimalRE.MatchString(s) {
		return false
	}
	var z big.Int
	if _, ok := z.SetString(strings.ReplaceAll(s, "_", ""), 10); !ok {
		return false
	}
	buf.WriteString(z.String())
	return true
}

// writeJSONString writes s as a JSON string, leaving <, > and & as they are.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	buf.Truncate(buf.Len() - 1)
}
