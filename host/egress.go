package host

import (
	"slices"

	"github.com/idplug/idplug/host/egress"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/sdk"
)

// egressRules are what the plugin named name may reach through its egress
// proxy: the hosts its instances' configurations name, those on their sites
// (unless sandbox.egress_allow names the plugin), and those its metadata
// declares, narrowed by sandbox.egress_allow.
func (h *Host) egressRules(name string) egress.Rules {
	md, ok := h.metadataOf(name)
	if !ok {
		return egress.Rules{}
	}
	var r egress.Rules
	h.mu.RLock()
	for _, id := range h.order {
		if in := h.instances[id]; in.cfg.Plugin == md.ID {
			r.Named = append(r.Named, egress.ConfigHosts(in.cfg.Config)...)
		}
	}
	h.mu.RUnlock()
	r.Declared = EgressHosts(h.opts.Sandbox, name, md)
	_, r.SameSiteOff = sandbox.Narrowing(h.opts.Sandbox.EgressAllow, name)
	slices.Sort(r.Named)
	r.Named = slices.Compact(r.Named)
	return r
}

// EgressHosts is what the plugin named name (its file name without
// idplug-connector-) may reach beyond its configurations, as "host:port": the
// hosts its metadata declares, narrowed by sandbox.egress_allow.
func EgressHosts(p sandbox.Policy, name string, md sdk.Metadata) []string {
	allow, narrowed := sandbox.Narrowing(p.EgressAllow, name)
	if !narrowed {
		allow = nil
	} else if allow == nil {
		allow = []string{}
	}
	return egress.DeclaredHosts(md.EgressHosts, allow)
}

// metadataOf is the metadata of the running plugin named name.
func (h *Host) metadataOf(name string) (sdk.Metadata, bool) {
	for _, p := range h.Plugins() {
		if p.Proc != nil && p.Proc.Name() == name {
			return p.Proc.Metadata(), true
		}
	}
	return sdk.Metadata{}, false
}

// pluginID is the metadata id of the plugin named name, or name.
func (h *Host) pluginID(name string) string {
	if md, ok := h.metadataOf(name); ok {
		return md.ID
	}
	return name
}
