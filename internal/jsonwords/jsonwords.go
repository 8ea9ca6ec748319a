// Package jsonwords names what encoding/json reports in the words of the JSON
// a person wrote ("a list", "true or false"), not in Go's ("array",
// "[]string", a struct's type name): for the messages of the API's bodies and
// of a mapping's sample.
package jsonwords

import (
	"encoding/json"
	"reflect"
	"strings"
)

// TypeError names what te found: want is the kind the field takes, got the
// kind that was sent.
func TypeError(te *json.UnmarshalTypeError) (want, got string) {
	return kindOf(te.Type), sent(te.Value)
}

// sent names the kind encoding/json reports ("number", "array") as JSON does.
func sent(v string) string {
	switch {
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v == "bool":
		return "true or false"
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "string":
		return "a string"
	}
	return v
}

func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	}
	return "a " + t.Kind().String()
}
