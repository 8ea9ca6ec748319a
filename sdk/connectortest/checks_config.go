package connectortest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/idplug/idplug/sdk"
)

func checkConfigValid(k *kit, t T) {
	if !k.configured {
		t.Errorf("%v", k.setUpErr)
	}
}

// required lists the required form items that have no default value: a form
// pre-fills an item with a default, so a configuration may leave it out.
func (k *kit) required() []sdk.FormItem {
	var out []sdk.FormItem
	for _, f := range k.meta.FormItems {
		if f.Required && f.DefaultValue == nil && f.Key != "" {
			out = append(out, f)
		}
	}
	return out
}

func checkConfigRequired(k *kit, t T) {
	for _, f := range k.meta.FormItems {
		if !f.Required || f.Key == "" {
			continue
		}
		if _, ok := k.opts.ValidConfig[f.Key]; !ok {
			if f.DefaultValue == nil {
				t.Errorf("the form item %q is required, but Options.ValidConfig does not set it: either ValidConfig is incomplete, or the form item's key is not the key ParseConfig reads", f.Key)
			}
			continue
		}
		cfg := k.without(f.Key)
		err := k.parse(t, cfg)
		what := fmt.Sprintf("ParseConfig of ValidConfig without the required item %q", f.Key)
		var ce *sdk.ConfigError
		switch {
		case err == nil && f.DefaultValue == nil:
			t.Errorf("%s: accepted; a required item without a default value must be required by ParseConfig too (or the form item should not be required)", what)
		case err == nil:
			// The item has a default that ParseConfig applies: fine.
		case k.defective(t, what, err):
		case !asConfigError(err, &ce):
			t.Errorf("%s: %v; want a *sdk.ConfigError naming %q", what, err, f.Key)
		case !names(ce, f.Key):
			t.Errorf("%s: %s; want a field error for %q", what, describe(ce), f.Key)
		default:
			k.wellFormed(t, what, ce, cfg)
		}
	}
}

// sampleValue is the value the kit gives a form item to see that its key is accepted.
func (k *kit) sampleValue(f sdk.FormItem) any {
	if v, ok := k.opts.FormValues[f.Key]; ok {
		return v
	}
	if f.DefaultValue != nil {
		return f.DefaultValue
	}
	switch f.Type {
	case sdk.FormSelect:
		if len(f.SelectItems) > 0 {
			return f.SelectItems[0].Value
		}
	case sdk.FormMultiSelect:
		return []string{}
	case sdk.FormSwitch:
		return false
	case sdk.FormNumber:
		return 0
	case sdk.FormJSON:
		return map[string]any{}
	}
	return ""
}

func checkConfigFormItems(k *kit, t T) {
	for _, f := range k.meta.FormItems {
		if _, inValid := k.opts.ValidConfig[f.Key]; inValid || f.Key == "" {
			continue // accepted already, as part of ValidConfig
		}
		value := k.sampleValue(f)
		err := k.parse(t, k.withKey(f.Key, value))
		what := fmt.Sprintf("ParseConfig of ValidConfig with the form item %q set to %s", f.Key, jsonText(value))
		if err != nil && !k.defective(t, what, err) {
			t.Errorf("%s: %s; every form item's key must be one ParseConfig reads, with the item's default value (set Options.FormValues[%q] when this value is what it refuses)", what, describe(err), f.Key)
		}
	}
}

// unknownKey is a key no connector reads.
const unknownKey = "connectortestUnknownKey"

func checkConfigUnknownKey(k *kit, t T) {
	cfg := k.withKey(unknownKey, "x")
	err := k.parse(t, cfg)
	what := fmt.Sprintf("ParseConfig of ValidConfig with the unknown key %q", unknownKey)
	var ce *sdk.ConfigError
	switch {
	case err == nil:
		t.Errorf("%s: accepted; an unknown key is almost always a misspelled one (\"clientID\" for \"clientId\"), which an operator must hear about (sdk.DecodeConfig refuses unknown keys)", what)
	case k.defective(t, what, err):
	case !asConfigError(err, &ce) || !names(ce, unknownKey):
		t.Errorf("%s: %s; want a *sdk.ConfigError naming %q", what, describe(err), unknownKey)
	default:
		k.wellFormed(t, what, ce, cfg)
	}
}

// wrongValue is a value of the wrong JSON type for every form item type but Json.
var wrongValue = map[string]any{"connectortest": "a JSON object where another type belongs"}

func checkConfigWrongTypes(k *kit, t T) {
	for _, f := range k.meta.FormItems {
		if f.Type == sdk.FormJSON || f.Key == "" {
			continue
		}
		cfg := k.withKey(f.Key, wrongValue)
		err := k.parse(t, cfg)
		what := fmt.Sprintf("ParseConfig of ValidConfig with the %s item %q set to a JSON object", f.Type, f.Key)
		var ce *sdk.ConfigError
		switch {
		case err == nil:
			t.Errorf("%s: accepted", what)
		case k.defective(t, what, err):
		case !asConfigError(err, &ce):
			t.Errorf("%s: %s; want a *sdk.ConfigError naming %q, so that the operator sees which field is wrong", what, describe(err), f.Key)
		case !names(ce, f.Key):
			t.Errorf("%s: %s; want a field error for %q", what, describe(ce), f.Key)
		default:
			k.wellFormed(t, what, ce, cfg)
		}
	}
}

func checkConfigEmpty(k *kit, t T) {
	err := k.d.parseConfig(t.Context(), []byte(`{}`))
	what := "ParseConfig of {}"
	required := k.required()
	if err == nil {
		if len(required) > 0 {
			t.Errorf("%s: accepted, but the form item %q is required", what, required[0].Key)
		}
		return
	}
	if k.defective(t, what, err) || len(required) == 0 {
		return
	}
	var ce *sdk.ConfigError
	if !asConfigError(err, &ce) {
		t.Errorf("%s: %s; want a *sdk.ConfigError naming every required item", what, describe(err))
		return
	}
	k.wellFormed(t, what, ce, nil)
	for _, f := range required {
		if !names(ce, f.Key) {
			t.Errorf("%s: %s; want a field error for the required item %q too: an operator should see every problem at once", what, describe(ce), f.Key)
		}
	}
}

// garbageConfigs are inputs that are not a JSON object.
var garbageConfigs = []string{
	`not json`,
	`{"unterminated": `,
	`{}}`,
	`{"a":1} {"b":2}`,
	`[]`,
	`["clientId"]`,
	`"a string"`,
	`42`,
	`true`,
	strings.Repeat("[", 100000),
	strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000),
}

func checkConfigGarbage(k *kit, t T) {
	for _, raw := range garbageConfigs {
		err := k.d.parseConfig(t.Context(), []byte(raw))
		what := fmt.Sprintf("ParseConfig of %s", truncate(raw, 40))
		var ce *sdk.ConfigError
		switch {
		case err == nil:
			t.Errorf("%s: accepted; a configuration must be a JSON object", what)
		case k.defective(t, what, err):
		case asConfigError(err, &ce):
			k.wellFormed(t, what, ce, nil)
		default:
			if code := sdk.AsError(err).Code; code != sdk.CodeInvalidConfig {
				t.Errorf("%s: %s; want a *sdk.ConfigError or an *sdk.Error with code invalid_config", what, describe(err))
			}
		}
	}
	// null decodes into nothing: a connector may accept it when nothing is required.
	if err := k.d.parseConfig(t.Context(), []byte(`null`)); err != nil {
		k.defective(t, "ParseConfig of null", err)
	}
}

func checkConfigHuge(k *kit, t T) {
	const size = 32 << 10
	cfg := map[string]any{}
	for key, v := range k.opts.ValidConfig {
		cfg[key] = v
	}
	for _, f := range k.meta.FormItems {
		switch f.Type {
		case sdk.FormText, sdk.FormMultilineText, sdk.FormSelect:
			cfg[f.Key] = huge(size)
		}
	}
	cfg[unknownKey] = huge(16 * size)
	// Values no check of a connector accepts: the field errors they get must
	// name the keys as operators write them.
	var ce *sdk.ConfigError
	if err := k.parse(t, cfg); err != nil && !k.defective(t, "ParseConfig with huge values", err) && asConfigError(err, &ce) {
		k.wellFormed(t, "ParseConfig with huge values", ce, cfg)
	}
	many := map[string]any{}
	for i := range 5000 {
		many[fmt.Sprintf("key%d", i)] = i
	}
	if err := k.parse(t, many); err != nil {
		k.defective(t, "ParseConfig with 5000 unknown keys", err)
	}
}

// errorText is everything an error would show an operator.
func errorText(err error) string {
	var ce *sdk.ConfigError
	if asConfigError(err, &ce) {
		return describe(ce)
	}
	e := sdk.AsError(err)
	details, _ := json.Marshal(e.Details)
	return e.Message + " " + string(details)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(string(b), 60)
}
