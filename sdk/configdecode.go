package sdk

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// DecodeConfig decodes a connector's JSON configuration into dst, a pointer to a
// struct whose fields carry json tags. Where json.Unmarshal stops at the first
// problem, DecodeConfig records every one in problems, each under its key: an unknown
// key (with a hint when only its case is wrong: "clientID" for "clientId") and a
// value of the wrong type. A null value leaves its field unset. Fields are checked
// in key order, so the problems read the same every time.
//
// A field whose type is a struct (or a pointer to one, or a slice or map of
// them) is read by the same rules, its problems named by their path:
// "profileMap.idd", "requests[0].method". A map's own keys are free-form, and
// a type with its own UnmarshalJSON or UnmarshalText reads itself.
//
// It returns an *Error with code invalid_config only when raw is not a JSON
// object at all; check problems.Err() afterwards for everything else.
func DecodeConfig(raw []byte, dst any, problems *ConfigError) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return Errorf(CodeGeneral, "DecodeConfig needs a pointer to a struct, not %T", dst)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Errorf(CodeInvalidConfig, "the configuration must be a JSON object")
	}
	decodeObject(fields, v.Elem(), "", &problemSet{list: problems})
	return nil
}

// problemSet adds DecodeConfig's problems to list as ConfigError.Add does, a
// field already there keeping its first problem, but looks names up in a set
// built at the first problem of the call: thousands of unknown keys cost linear
// time, not quadratic. Nothing else edits list.Fields during the call, so the
// set cannot go stale; a set kept in ConfigError itself would, whenever a caller
// edits its exported Fields.
type problemSet struct {
	list *ConfigError
	seen map[string]struct{}
}

func (s *problemSet) Add(field, format string, args ...any) {
	if s.seen == nil {
		s.seen = make(map[string]struct{}, len(s.list.Fields)+1)
		for _, f := range s.list.Fields {
			s.seen[f.Field] = struct{}{}
		}
	}
	if _, ok := s.seen[field]; ok {
		return
	}
	s.seen[field] = struct{}{}
	s.list.Fields = append(s.list.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// decodeObject decodes the keys of a JSON object into the struct v, naming each
// problem with prefix (the object's path and a dot, or nothing at the top).
func decodeObject(fields map[string]json.RawMessage, v reflect.Value, prefix string, problems *problemSet) {
	targets := taggedFields(v)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		value := fields[key]
		target, known := targets[key]
		switch {
		case !known:
			problems.Add(prefix+key, "unknown field%s", caseHint(key, targets))
		case isNull(value):
		default:
			decodeValue(value, target, prefix+key, problems)
		}
	}
}

// decodeValue decodes raw into v, by DecodeConfig's rules where v's type holds
// a struct (strict) and as json.Unmarshal does elsewhere.
func decodeValue(raw json.RawMessage, v reflect.Value, path string, problems *problemSet) {
	t := v.Type()
	if !strict(t) {
		if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
			problems.Add(path, "must be %s%s", kindName(t), quoteHint(t, raw))
		}
		return
	}
	if isNull(raw) { // inside an array or a map, where json.Unmarshal would
		v.SetZero() // leave a struct zero and a pointer nil
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		decodeValue(raw, v.Elem(), path, problems)
	case reflect.Struct:
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			problems.Add(path, "must be %s", kindName(t))
			return
		}
		decodeObject(fields, v, path+".", problems)
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			problems.Add(path, "must be %s", kindName(t))
			return
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			decodeValue(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), problems)
		}
		v.Set(s)
	case reflect.Map:
		var items map[string]json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			problems.Add(path, "must be %s", kindName(t))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(items)))
		}
		keys := make([]string, 0, len(items))
		for k := range items {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			item := reflect.New(t.Elem()).Elem()
			decodeValue(items[k], item, path+"."+k, problems)
			v.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), item)
		}
	}
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// strict says whether values of t hold a struct whose keys DecodeConfig checks:
// a struct, or a pointer, slice or string-keyed map leading to one, unless a
// type on the way decodes itself. The walk is bounded, for a type that holds
// only itself (type list []list).
func strict(t reflect.Type) bool {
	for range 16 {
		if p := reflect.PointerTo(t); p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler) {
			return false
		}
		switch t.Kind() {
		case reflect.Struct:
			return plainStruct(t)
		case reflect.Pointer, reflect.Slice:
		case reflect.Map:
			if t.Key().Kind() != reflect.String || reflect.PointerTo(t.Key()).Implements(textUnmarshaler) {
				return false
			}
		default:
			return false
		}
		t = t.Elem()
	}
	return false
}

// plainStruct says whether taggedFields reads t's keys as encoding/json does:
// no embedded struct (whose fields json reads as the outer one's) and no
// ",string" option. Such a struct nested in a config is decoded by
// json.Unmarshal, as before nested keys were checked.
func plainStruct(t reflect.Type) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || slices.Contains(strings.Split(opts, ","), "string") {
			return false
		}
	}
	return true
}

// taggedFields maps the json names of a struct's exported fields to the fields.
func taggedFields(v reflect.Value) map[string]reflect.Value {
	out := make(map[string]reflect.Value, v.NumField())
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = v.Field(i)
	}
	return out
}

var rawJSONType = reflect.TypeFor[json.RawMessage]()

// quoteHint tells an operator who wrote a number or true where a string
// belongs (YAML reads clientId: 1234 as a number) how to write it.
func quoteHint(t reflect.Type, raw json.RawMessage) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.String || t == rawJSONType {
		return ""
	}
	switch trimmed := bytes.TrimSpace(raw); {
	case len(trimmed) == 0:
		return ""
	case trimmed[0] == '-' || '0' <= trimmed[0] && trimmed[0] <= '9':
		return ", not a number: put the value in quotes"
	case bytes.Equal(trimmed, []byte("true")) || bytes.Equal(trimmed, []byte("false")):
		return ", not true or false: put the value in quotes"
	}
	return ""
}

// kindName says what a field takes, for "must be ..." messages.
func kindName(t reflect.Type) string {
	if t == rawJSONType {
		return "valid JSON"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return kindName(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	}
	return "a " + t.Kind().String()
}

// caseHint names the known key that key differs from only in case, or in
// underscores and dashes: YAML written for other tools spells client_id and
// base-url what a connector reads as clientId and baseUrl. Of two such keys the
// first in order is named, the same every time. A configuration may carry
// thousands of unknown keys: this allocates nothing but the folded strings.
func caseHint(key string, known map[string]reflect.Value) string {
	want, hint := folded(key), ""
	for name := range known {
		if (hint == "" || name < hint) && strings.EqualFold(folded(name), want) {
			hint = name
		}
	}
	if hint == "" {
		return ""
	}
	return "; did you mean " + hint + "?"
}

// unseparated drops underscores and dashes; a Replacer is safe for concurrent use.
var unseparated = strings.NewReplacer("_", "", "-", "")

// folded is a key without its underscores and dashes.
func folded(key string) string { return unseparated.Replace(key) }
