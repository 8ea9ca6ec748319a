package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/idplug/idplug/internal/printable"
	"github.com/idplug/idplug/internal/wire"
)

// A plugin's metadata is held for the plugin's life and served to anyone: the
// name and logo of every configured instance are on the public home page, the
// readme and form items on /v1, and all of it is printed by `idplug plugins`.
// Nothing but the 4 MiB reply limit bounded it: the host refuses a plugin whose
// metadata goes over these bounds, with the field and the bound in the reason,
// and the conformance kit checks them (sdk/connectortest, metadata/bounds). The
// bounds are several times what the bundled and the Logto connectors declare.
const (
	// maxPluginID bounds the metadata id, which must also match wire.PluginNameRE.
	maxPluginID = 64
	// maxTarget bounds the target (the identity provider's name).
	maxTarget = 128
	// maxLanguages bounds the languages of the name and of the description,
	// maxLanguageTag each language's tag (BCP 47 tags fit in 35 bytes), and
	// maxPhrase the name or the description in one language.
	maxLanguages   = 32
	maxLanguageTag = 35
	maxPhrase      = 256
	// maxLogo bounds a logo (and the dark one), an http(s) URL or a data:image/
	// URL: the home page writes it inline for every instance.
	maxLogo = 64 << 10
	// maxReadme bounds the readme, maxConfigTemplate the config template.
	maxReadme         = 64 << 10
	maxConfigTemplate = 64 << 10
	// maxFormItems bounds the form items, maxFormItemsSize all their text and
	// values together; maxFormKey bounds a key (a path into the configuration)
	// or a show condition's target key, maxFormText a label, placeholder,
	// description, tooltip or choice, maxFormValue a default or expected value's
	// JSON, maxSelectItems a field's choices and maxShowConditions its conditions.
	maxFormItems      = 128
	maxFormItemsSize  = 64 << 10
	maxFormKey        = 128
	maxFormText       = 1 << 10
	maxFormValue      = 4 << 10
	maxSelectItems    = 128
	maxShowConditions = 16
	// maxEgressHosts bounds the hosts a plugin's metadata declares: the egress
	// proxy matches every connection against them, and a plugin could declare
	// hundreds of thousands within the reply limit (150 ms of the host's CPU a
	// connection). A connector talks to a handful of hosts. maxEgressHost is a
	// DNS name of 253 bytes and a port.
	maxEgressHosts = 64
	maxEgressHost  = 260
)

// CheckMetadata refuses metadata that has no usable id, or goes over a bound.
// Its errors read after "metadata " and quote what the plugin sent (escaped,
// and cut).
func CheckMetadata(md Metadata) error {
	switch {
	case md.ID == "":
		return errors.New("has no id")
	case len(md.ID) > maxPluginID:
		return fmt.Errorf("id %s has %d bytes; at most %d", quote(md.ID), len(md.ID), maxPluginID)
	case !wire.PluginNameRE.MatchString(md.ID):
		return fmt.Errorf("id %s does not match %s", quote(md.ID), wire.PluginNameRE)
	case len(md.Target) > maxTarget:
		return fmt.Errorf("target has %d bytes; at most %d", len(md.Target), maxTarget)
	case !printable.Clean(md.Target):
		return fmt.Errorf("target %s holds control characters", quote(md.Target))
	}
	for _, p := range []struct {
		field   string
		phrases I18n
	}{{"name", md.Name}, {"description", md.Description}} {
		if err := checkPhrases(p.field, p.phrases); err != nil {
			return err
		}
	}
	for _, l := range []struct{ field, url string }{{"logo", md.Logo}, {"logoDark", md.LogoDark}} {
		if err := checkLogo(l.field, l.url); err != nil {
			return err
		}
	}
	switch {
	case len(md.Readme) > maxReadme:
		return fmt.Errorf("readme has %d bytes; at most %d", len(md.Readme), maxReadme)
	case len(md.ConfigTemplate) > maxConfigTemplate:
		return fmt.Errorf("configTemplate has %d bytes; at most %d", len(md.ConfigTemplate), maxConfigTemplate)
	}
	if err := checkFormItems(md.FormItems); err != nil {
		return err
	}
	if len(md.EgressHosts) > maxEgressHosts {
		return fmt.Errorf("declares %d egress hosts; at most %d", len(md.EgressHosts), maxEgressHosts)
	}
	for _, h := range md.EgressHosts {
		switch {
		case len(h) > maxEgressHost:
			return fmt.Errorf("declares an egress host of %d bytes; at most %d", len(h), maxEgressHost)
		case !printable.Clean(h) || strings.ContainsAny(h, " /"):
			return fmt.Errorf("declares an egress host that is not a host or host:port: %s", quote(h))
		}
	}
	return nil
}

func checkPhrases(field string, phrases I18n) error {
	if len(phrases) > maxLanguages {
		return fmt.Errorf("%s has %d languages; at most %d", field, len(phrases), maxLanguages)
	}
	for lang, text := range phrases {
		switch {
		case len(lang) > maxLanguageTag || !printable.Clean(lang):
			return fmt.Errorf("%s has a language tag that is not one: %s", field, quote(lang))
		case len(text) > maxPhrase:
			return fmt.Errorf("%s[%q] has %d bytes; at most %d", field, lang, len(text), maxPhrase)
		}
	}
	return nil
}

// checkLogo accepts no logo, an absolute http(s) URL or a data:image/ URL,
// within maxLogo: the home page writes it as an image's source.
func checkLogo(field, raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > maxLogo {
		return fmt.Errorf("%s has %d bytes; at most %d", field, len(raw), maxLogo)
	}
	if strings.HasPrefix(raw, "data:image/") {
		return nil
	}
	if u, err := url.Parse(raw); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return nil
	}
	return fmt.Errorf("%s %s is neither an http(s) URL nor a data:image/ URL", field, quote(raw))
}

// formText is one of a form item's strings, and its bound.
type formText struct {
	field, text string
	limit       int
}

// formValue is one of a form item's JSON values.
type formValue struct {
	field string
	value any
}

func checkFormItems(items []FormItem) error {
	if len(items) > maxFormItems {
		return fmt.Errorf("declares %d form items; at most %d", len(items), maxFormItems)
	}
	total := 0
	for i, f := range items {
		name := fmt.Sprintf("form item %d", i)
		if len(f.Key) <= maxFormKey {
			name += " (" + quote(f.Key) + ")"
		}
		switch {
		case len(f.SelectItems) > maxSelectItems:
			return fmt.Errorf("%s has %d select items; at most %d", name, len(f.SelectItems), maxSelectItems)
		case len(f.ShowConditions) > maxShowConditions:
			return fmt.Errorf("%s has %d show conditions; at most %d", name, len(f.ShowConditions), maxShowConditions)
		}
		texts := []formText{{"key", f.Key, maxFormKey}, {"label", f.Label, maxFormText}, {"placeholder", f.Placeholder, maxFormText},
			{"description", f.Description, maxFormText}, {"tooltip", f.Tooltip, maxFormText}}
		values := []formValue{{"defaultValue", f.DefaultValue}}
		for j, s := range f.SelectItems {
			texts = append(texts, formText{fmt.Sprintf("selectItems[%d].value", j), s.Value, maxFormText},
				formText{fmt.Sprintf("selectItems[%d].title", j), s.Title, maxFormText})
		}
		for j, c := range f.ShowConditions {
			texts = append(texts, formText{fmt.Sprintf("showConditions[%d].targetKey", j), c.TargetKey, maxFormKey})
			values = append(values, formValue{fmt.Sprintf("showConditions[%d].expectValue", j), c.ExpectValue})
		}
		for _, t := range texts {
			if len(t.text) > t.limit {
				return fmt.Errorf("%s: %s has %d bytes; at most %d", name, t.field, len(t.text), t.limit)
			}
			total += len(t.text)
		}
		if !printable.Clean(f.Key) {
			return fmt.Errorf("%s: key holds control characters", name)
		}
		for _, v := range values {
			if v.value == nil {
				continue
			}
			// On the wire a value is bytes, kept as they came (json.RawMessage):
			// one that is not JSON would make every answer holding it fail to encode.
			raw, ok := v.value.(json.RawMessage)
			if !ok {
				var err error
				if raw, err = json.Marshal(v.value); err != nil {
					return fmt.Errorf("%s: %s is not JSON", name, v.field)
				}
			}
			switch {
			case len(raw) > maxFormValue:
				return fmt.Errorf("%s: %s has %d bytes; at most %d", name, v.field, len(raw), maxFormValue)
			case !json.Valid(raw):
				return fmt.Errorf("%s: %s is not JSON", name, v.field)
			}
			total += len(raw)
		}
		if total > maxFormItemsSize {
			return fmt.Errorf("form items have more than %d bytes of text and values in all", maxFormItemsSize)
		}
	}
	return nil
}

// quote is s as Go quotes it (control characters escaped), cut to 64 bytes: a
// refusal names what the plugin sent without repeating megabytes of it.
func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", printable.Cut(s, 64))
	}
	return fmt.Sprintf("%q", s)
}
