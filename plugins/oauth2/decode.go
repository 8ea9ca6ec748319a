package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// decodeObject decodes the JSON object raw into dst, a pointer to a struct with json
// tags. Unlike json.Unmarshal it does not stop at the first problem: every unknown
// key and every value of the wrong type becomes a field error in problems, so an
// operator sees them all at once. A null value leaves the field unset.
func decodeObject(raw []byte, dst any, problems *sdk.ConfigError) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return sdk.Errorf(sdk.CodeInvalidConfig, "the configuration must be a JSON object")
	}
	targets := jsonFields(dst)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys) // field errors in a stable order
	for _, key := range keys {
		value := fields[key]
		target, known := targets[key]
		switch {
		case !known:
			problems.Add(key, "unknown field%s", suggestion(key, targets))
		case bytes.Equal(bytes.TrimSpace(value), []byte("null")):
			// unset
		default:
			if err := json.Unmarshal(value, target.Addr().Interface()); err != nil {
				problems.Add(key, "must be %s", describeType(target.Type()))
			}
		}
	}
	return nil
}

// jsonFields maps each json tag name of *dst's struct to its field.
func jsonFields(dst any) map[string]reflect.Value {
	v := reflect.ValueOf(dst).Elem()
	out := make(map[string]reflect.Value, v.NumField())
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = v.Field(i)
		}
	}
	return out
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func describeType(t reflect.Type) string {
	switch {
	case t == rawMessageType:
		return "valid JSON"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Map:
		return "a JSON object"
	default:
		return "a " + t.Kind().String()
	}
}

// suggestion points at a known field that differs from key only in case, the most
// common slip when configurations are written by hand ("clientID" for "clientId").
func suggestion(key string, known map[string]reflect.Value) string {
	for name := range known {
		if strings.EqualFold(name, key) {
			return "; did you mean " + name + "?"
		}
	}
	return ""
}
