package oauth2kit

import (
	"reflect"
	"strconv"
	"sync"

	"github.com/idplug/idplug/sdk"
)

// DecodeConfig is sdk.DecodeConfig for a config struct that embeds ClientConfig
// (or any other exported struct without a json tag): the embedded struct's fields
// are read as top-level keys, as encoding/json reads them. Everything else is
// sdk.DecodeConfig's: one pass in key order, every problem recorded under its key,
// case hints that know every field, null leaving a field unset.
func DecodeConfig(raw []byte, dst any, problems *sdk.ConfigError) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return sdk.DecodeConfig(raw, dst, problems) // which says what dst should be
	}
	return sdk.DecodeConfig(raw, flatView(v.Elem()).Interface(), problems)
}

// ParseConfig decodes raw into a new C with DecodeConfig, then builds an instance
// from it with build, which adds a problem for every bad field it finds. It returns
// a *sdk.ConfigError naming every bad field, or an *sdk.Error when raw is not a JSON
// object at all. build sees the problems decoding found, and may stop at them.
func ParseConfig[C, I any](raw []byte, build func(*C, *sdk.ConfigError) I) (I, error) {
	var (
		cfg      C
		problems sdk.ConfigError
		none     I
	)
	if err := DecodeConfig(raw, &cfg, &problems); err != nil {
		return none, err
	}
	in := build(&cfg, &problems)
	if err := problems.Err(); err != nil {
		return none, err
	}
	return in, nil
}

// flatView returns a pointer to a new struct with one pointer field per key of v
// (configFields), each aimed at v's own field: decoding into the view fills v. A
// pointer field reads as its target does (null leaves it unset, a wrong type is
// named after the target's type), so sdk.DecodeConfig reports the same problems it
// would for a flat struct.
func flatView(v reflect.Value) reflect.Value {
	layout := flatLayoutOf(v.Type())
	view := reflect.New(layout.view)
	for i, index := range layout.targets {
		view.Elem().Field(i).Set(v.FieldByIndex(index).Addr())
	}
	return view
}

// flatLayout is the view of one config struct type: its type, and where in the
// config struct each of its fields points.
type flatLayout struct {
	view    reflect.Type
	targets [][]int
}

// flatLayouts caches a flatLayout per config struct type: building the view's type
// costs several times what decoding does.
var flatLayouts sync.Map // reflect.Type → *flatLayout

func flatLayoutOf(t reflect.Type) *flatLayout {
	if l, ok := flatLayouts.Load(t); ok {
		return l.(*flatLayout)
	}
	fields := configFields(t)
	viewFields := make([]reflect.StructField, len(fields))
	targets := make([][]int, len(fields))
	for i, f := range fields {
		viewFields[i] = reflect.StructField{
			Name: "F" + strconv.Itoa(i), // unique; the key is in the tag
			Type: reflect.PointerTo(f.typ),
			Tag:  reflect.StructTag(`json:"` + f.key + `"`),
		}
		targets[i] = f.index
	}
	l, _ := flatLayouts.LoadOrStore(t, &flatLayout{view: reflect.StructOf(viewFields), targets: targets})
	return l.(*flatLayout)
}
