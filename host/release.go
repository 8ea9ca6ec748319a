package host

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/sdk"
)

// releaseLeftovers tells each plugin which of its instances the new configuration
// dropped: removed, moved to another plugin, or given a new configuration (released
// under the old version, so version-keyed state goes too). The calls run in the
// background: a plugin that is slow, fails, or predates the call (answers
// not_implemented) only costs the memory it keeps, never a request's time.
func (h *Host) releaseLeftovers(previous, current map[string]*instance) {
	byPlugin := map[string][]process.Instance{}
	for id, old := range previous {
		now, ok := current[id]
		if ok && now.cfg.Plugin == old.cfg.Plugin && now.inst.Version == old.inst.Version {
			continue
		}
		byPlugin[old.cfg.Plugin] = append(byPlugin[old.cfg.Plugin], process.Instance{ID: id, Version: old.inst.Version})
	}
	for _, plugin := range slices.Sorted(maps.Keys(byPlugin)) {
		proc, ok := h.Plugin(plugin)
		if !ok {
			continue // stopped: its process and what it held are gone
		}
		insts := byPlugin[plugin]
		slices.SortFunc(insts, func(a, b process.Instance) int { return strings.Compare(a.ID, b.ID) })
		h.releasing.Add(1)
		go func() {
			defer h.releasing.Done()
			// The call has its own deadline (the call timeout); it outlives Configure's context on purpose.
			err := proc.ReleaseInstances(context.Background(), insts)
			var se *sdk.Error
			switch {
			case err == nil:
				h.log.Debug("released instances", "plugin", plugin, "instances", instanceIDs(insts))
			case errors.As(err, &se) && se.Code == sdk.CodeNotImplemented:
				h.log.Debug("plugin does not take instance releases; it keeps what it held", "plugin", plugin)
			default:
				h.log.Debug("releasing instances failed", "plugin", plugin, "instances", instanceIDs(insts), "error", err)
			}
		}()
	}
}

func instanceIDs(insts []process.Instance) []string {
	ids := make([]string, len(insts))
	for i, in := range insts {
		ids[i] = in.ID
	}
	return ids
}
