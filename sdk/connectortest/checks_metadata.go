package connectortest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/idplug/idplug/sdk"
)

func checkMetadataID(k *kit, t T) {
	switch id := k.meta.ID; {
	case id == "":
		t.Errorf("the metadata has no id")
	case !nameRE.MatchString(id):
		t.Errorf("the metadata id %q must match %s: operators name it in idplug.yaml and ship the plugin as %s%s", id, nameRE, pluginPrefix, "<id>")
	}
}

// checkMetadataBounds runs the host's own check: a plugin over a bound is
// refused at its start, whatever else it does well.
func checkMetadataBounds(k *kit, t T) {
	if err := sdk.CheckMetadata(k.meta); err != nil {
		t.Errorf("the host would refuse this plugin: metadata %v", err)
	}
}

func checkMetadataTarget(k *kit, t T) {
	if strings.TrimSpace(k.meta.Target) == "" {
		t.Errorf("the metadata has no target (the identity provider's name, such as \"github\")")
	}
}

func checkMetadataPlatform(k *kit, t T) {
	switch k.meta.Platform {
	case sdk.PlatformUniversal, sdk.PlatformWeb, sdk.PlatformNative:
	default:
		t.Errorf("the platform is %q; want %s, %s or %s", k.meta.Platform, sdk.PlatformUniversal, sdk.PlatformWeb, sdk.PlatformNative)
	}
}

func checkMetadataName(k *kit, t T) { checkI18n(t, "name", k.meta.Name) }

func checkMetadataDescription(k *kit, t T) { checkI18n(t, "description", k.meta.Description) }

func checkI18n(t T, field string, phrases sdk.I18n) {
	t.Helper()
	if strings.TrimSpace(phrases["en"]) == "" {
		t.Errorf("the %s has no English entry: %s[\"en\"] is required (it is what every page falls back to)", field, field)
	}
	for _, lang := range sortedKeys(phrases) {
		switch {
		case lang == "" || strings.ContainsAny(lang, " \t\n_"):
			t.Errorf("the %s has an entry under %q, which is not a language tag such as \"en\" or \"zh-CN\"", field, lang)
		case strings.TrimSpace(phrases[lang]) == "":
			t.Errorf("the %s's %q entry is empty; leave the language out instead", field, lang)
		}
	}
}

func checkMetadataLogo(k *kit, t T) {
	if k.meta.Logo == "" {
		t.Errorf("the metadata has no logo: sign-in pages show it on the button")
	} else if err := checkImageURL(k.meta.Logo); err != nil {
		t.Errorf("logo %v", err)
	}
	if k.meta.LogoDark != "" {
		if err := checkImageURL(k.meta.LogoDark); err != nil {
			t.Errorf("logoDark %v", err)
		}
	}
}

// checkImageURL accepts an absolute http(s) URL, or a data: URL of an image.
func checkImageURL(raw string) error {
	if rest, ok := strings.CutPrefix(raw, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		if !ok || data == "" {
			return fmt.Errorf("is a data: URL without data")
		}
		params := strings.Split(meta, ";")
		if !strings.HasPrefix(params[0], "image/") {
			return fmt.Errorf("is a data: URL of %q, not of an image", params[0])
		}
		if slices.Contains(params[1:], "base64") {
			if _, err := base64.StdEncoding.DecodeString(data); err != nil {
				return fmt.Errorf("is a data: URL whose base64 does not decode: %v", err)
			}
		} else if _, err := url.PathUnescape(data); err != nil {
			return fmt.Errorf("is a data: URL whose data is not URL-encoded: %v", err)
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is neither an absolute http(s) URL nor a data:image URL", truncate(raw, 80))
	}
	return nil
}

func checkMetadataReadme(k *kit, t T) {
	if strings.TrimSpace(k.meta.Readme) == "" {
		t.Errorf("the readme is empty: it is the operator's documentation of every field")
	}
}

var formItemTypes = []sdk.FormItemType{sdk.FormText, sdk.FormMultilineText, sdk.FormNumber, sdk.FormSwitch, sdk.FormSelect, sdk.FormMultiSelect, sdk.FormJSON}

func checkMetadataFormItems(k *kit, t T) {
	byKey := map[string]sdk.FormItem{}
	for i, f := range k.meta.FormItems {
		name := fmt.Sprintf("form item %d (%q)", i, f.Key)
		switch _, dup := byKey[f.Key]; {
		case f.Key == "":
			t.Errorf("%s has no key", name)
		case dup:
			t.Errorf("%s: the key is used twice", name)
		}
		byKey[f.Key] = f
		if strings.TrimSpace(f.Label) == "" {
			t.Errorf("%s has no label", name)
		}
		if !slices.Contains(formItemTypes, f.Type) {
			t.Errorf("%s has the unknown type %q", name, f.Type)
		}
		checkSelectItems(t, name, f)
		if f.DefaultValue != nil {
			if err := fitsItem(f, f.DefaultValue); err != nil {
				t.Errorf("%s: the default value %v", name, err)
			}
		}
	}
	for i, f := range k.meta.FormItems {
		name := fmt.Sprintf("form item %d (%q)", i, f.Key)
		for _, c := range f.ShowConditions {
			target, ok := byKey[c.TargetKey]
			switch {
			case !ok:
				t.Errorf("%s: a show condition names %q, which is no form item", name, c.TargetKey)
			case c.TargetKey == f.Key:
				t.Errorf("%s: a show condition names the item itself", name)
			case c.ExpectValue != nil:
				if err := fitsItem(target, c.ExpectValue); err != nil {
					t.Errorf("%s: a show condition expects %q to be a value that %v", name, c.TargetKey, err)
				}
			}
		}
	}
}

func checkSelectItems(t T, name string, f sdk.FormItem) {
	t.Helper()
	isSelect := f.Type == sdk.FormSelect || f.Type == sdk.FormMultiSelect
	switch {
	case isSelect && len(f.SelectItems) == 0:
		t.Errorf("%s is a %s without select items", name, f.Type)
	case !isSelect && len(f.SelectItems) > 0:
		t.Errorf("%s has select items but is a %s; make it a Select or MultiSelect", name, f.Type)
	}
	seen := map[string]bool{}
	for _, s := range f.SelectItems {
		switch {
		case s.Value == "":
			t.Errorf("%s has a select item without a value", name)
		case seen[s.Value]:
			t.Errorf("%s offers the value %q twice", name, s.Value)
		}
		seen[s.Value] = true
	}
}

// fitsItem says whether v (a Go value, or JSON from the wire) is a value item can hold.
func fitsItem(item sdk.FormItem, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("does not encode to JSON: %v", err)
	}
	var decoded any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&decoded); err != nil {
		return fmt.Errorf("is not JSON: %v", err)
	}
	values := make([]string, len(item.SelectItems))
	for i, s := range item.SelectItems {
		values[i] = s.Value
	}
	switch item.Type {
	case sdk.FormText, sdk.FormMultilineText:
		if _, ok := decoded.(string); !ok {
			return fmt.Errorf("%s is not a string, as a %s item holds", raw, item.Type)
		}
	case sdk.FormNumber:
		if _, ok := decoded.(json.Number); !ok {
			return fmt.Errorf("%s is not a number", raw)
		}
	case sdk.FormSwitch:
		if _, ok := decoded.(bool); !ok {
			return fmt.Errorf("%s is not true or false", raw)
		}
	case sdk.FormSelect:
		if s, ok := decoded.(string); !ok || !slices.Contains(values, s) {
			return fmt.Errorf("%s is not one of the select items (%s)", raw, strings.Join(values, ", "))
		}
	case sdk.FormMultiSelect:
		list, ok := decoded.([]any)
		if !ok {
			return fmt.Errorf("%s is not a list of select items", raw)
		}
		for _, e := range list {
			if s, ok := e.(string); !ok || !slices.Contains(values, s) {
				return fmt.Errorf("%s holds a value that is not one of the select items (%s)", raw, strings.Join(values, ", "))
			}
		}
	}
	return nil
}

func checkMetadataConfigTemplate(k *kit, t T) {
	if k.meta.ConfigTemplate == "" {
		return
	}
	var tmpl map[string]json.RawMessage
	if err := json.Unmarshal([]byte(k.meta.ConfigTemplate), &tmpl); err != nil || tmpl == nil {
		t.Errorf("the config template is not a JSON object: %s", truncate(k.meta.ConfigTemplate, 200))
		return
	}
	keys := map[string]bool{}
	for _, f := range k.meta.FormItems {
		keys[f.Key] = true
	}
	for _, key := range sortedKeys(tmpl) {
		if !keys[key] {
			t.Errorf("the config template sets %q, which is no form item", key)
		}
	}
}
