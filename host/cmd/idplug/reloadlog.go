package main

import (
	"bytes"
	"maps"
	"reflect"
	"slices"

	"github.com/idplug/idplug/host/config"
)

// reloadChanges says what a reload that applies changes, for its log line:
// the connectors added and removed, those whose config changed (a secret a
// ${file:} reference reads included, and any other setting of the connector:
// its plugin, target, mapping, display or storeTokens), and whether the
// session or API keys changed. A reload that changes nothing says so: Kubernetes updates a
// mounted Secret a while after it changed, and a reload made before that
// reads the old value.
func reloadChanges(old, cfg *config.Config) []any {
	was := map[string]config.Instance{}
	for _, c := range old.Instances {
		was[c.ID] = c
	}
	added, changed := []string{}, []string{}
	for _, c := range cfg.Instances {
		prev, ok := was[c.ID]
		switch {
		case !ok:
			added = append(added, c.ID)
		case !sameConnector(prev, c):
			changed = append(changed, c.ID)
		}
		delete(was, c.ID)
	}
	removed := []string{}
	for id := range was {
		removed = append(removed, id)
	}
	slices.Sort(removed)
	return []any{
		"added", added, "removed", removed, "config_changed", changed,
		"session_keys_changed", !slices.EqualFunc(old.SessionKeys, cfg.SessionKeys, bytes.Equal),
		"api_keys_changed", !reflect.DeepEqual(old.APIKeys, cfg.APIKeys),
	}
}

// sameConnector says whether a and b configure a connector alike: a mapping
// changed alone (which signs its browsers out) had been logged as nothing new.
func sameConnector(a, b config.Instance) bool {
	return bytes.Equal(a.Config, b.Config) && a.Plugin == b.Plugin && a.Target == b.Target &&
		a.StoreTokens == b.StoreTokens && a.Logo == b.Logo && a.LogoDark == b.LogoDark &&
		maps.Equal(a.Name, b.Name) && a.Mapping.Fingerprint() == b.Mapping.Fingerprint()
}
