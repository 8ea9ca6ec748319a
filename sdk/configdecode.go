package sdk

import (
	"bytes"
	"encoding/json"
	"reflect"
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
	targets := taggedFields(v.Elem())
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
			problems.Add(key, "unknown field%s", caseHint(key, targets))
		case bytes.Equal(bytes.TrimSpace(value), []byte("null")):
		default:
			if err := json.Unmarshal(value, target.Addr().Interface()); err != nil {
				problems.Add(key, "must be %s", kindName(target.Type()))
			}
		}
	}
	return nil
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

func caseHint(key string, known map[string]reflect.Value) string {
	for name := range known {
		if strings.EqualFold(name, key) {
			return "; did you mean " + name + "?"
		}
	}
	return ""
}
