package oauth2kit

import (
	"reflect"
	"strings"
)

// ConfigKeys lists the keys DecodeConfig reads into a config struct like cfg (a
// struct or a pointer to one), those of embedded structs included: what a
// connector's tests compare with its form items and its documentation.
func ConfigKeys(cfg any) []string {
	t := reflect.TypeOf(cfg)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fields := configFields(t)
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

// configField is one key of a config struct and the field it is read into.
type configField struct {
	key   string
	index []int // for reflect.Value.FieldByIndex
	typ   reflect.Type
}

// configFields are the keys of t, a struct type, as encoding/json reads them:
// exported fields by their json tag (their name without one), "-" left out, and the
// fields of exported structs embedded without a tag as keys of their own. A field
// of the outer struct hides an embedded one of the same key.
func configFields(t reflect.Type) []configField {
	var (
		fields []configField
		seen   = map[string]bool{}
		walk   func(t reflect.Type, at []int)
	)
	walk = func(t reflect.Type, at []int) {
		var embedded []reflect.StructField
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case !f.IsExported() || key == "-":
				continue
			case f.Anonymous && key == "" && f.Type.Kind() == reflect.Struct:
				embedded = append(embedded, f) // after this level's own fields
				continue
			case key == "":
				key = f.Name
			}
			if !seen[key] {
				seen[key] = true
				fields = append(fields, configField{key: key, index: append(append([]int(nil), at...), f.Index...), typ: f.Type})
			}
		}
		for _, e := range embedded {
			walk(e.Type, append(append([]int(nil), at...), e.Index...))
		}
	}
	walk(t, nil)
	return fields
}
