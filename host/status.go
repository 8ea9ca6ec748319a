package host

import (
	"slices"

	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/host/sandbox"
)

// Status is the host's health as /readyz reports it.
type Status struct {
	// Ready is true when the plugin of every configured instance runs.
	Ready   bool            `json:"ready"`
	Plugins []PluginStatus  `json:"plugins"`
	Refused []catalog.Entry `json:"refused"`
	// MissingPlugins are the plugins configured connectors use that have no
	// process (their file was removed from the folder, or their start
	// failed), sorted: Plugins lists running plugins only, and had left
	// unsaid why such a host was not ready.
	MissingPlugins []string `json:"missingPlugins"`
	Instances      int      `json:"connectors"`
	// Sandbox says how plugins are confined and what this kernel cannot apply.
	Sandbox sandbox.Report `json:"sandbox"`
}

// PluginStatus is one plugin's state.
type PluginStatus struct {
	ID       string        `json:"id"`
	File     string        `json:"file"`
	PID      int           `json:"pid"`
	State    process.State `json:"state"`
	InFlight int           `json:"inFlight"`
}

// Status reports whether the host can serve every configured instance.
func (h *Host) Status() Status {
	st := Status{Ready: true, Refused: h.Refused(), Plugins: []PluginStatus{}, MissingPlugins: []string{}, Sandbox: h.Sandbox()}
	if st.Refused == nil {
		st.Refused = []catalog.Entry{}
	}
	running := map[string]bool{}
	for _, p := range h.Plugins() {
		ps := PluginStatus{ID: p.Proc.Metadata().ID, File: p.File, PID: p.PID, State: p.State, InFlight: p.Proc.InFlight()}
		running[ps.ID] = ps.State == process.StateRunning
		st.Plugins = append(st.Plugins, ps)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	st.Instances = len(h.instances)
	for _, c := range h.instances {
		if !running[c.cfg.Plugin] {
			st.Ready = false
		}
		if _, listed := running[c.cfg.Plugin]; !listed && !slices.Contains(st.MissingPlugins, c.cfg.Plugin) {
			st.MissingPlugins = append(st.MissingPlugins, c.cfg.Plugin)
		}
	}
	slices.Sort(st.MissingPlugins)
	return st
}
