package host

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/sdk"
)

// vetReplacement checks proc, the new process of a replaced plugin file that
// claims plugin id, against the configuration of every connector id serves,
// before it takes the old process's place (supervisor.Options.Vet). A new
// version that requires a key the running configuration lacks is refused,
// and the old one keeps serving, as for a replacement that does not start.
// The refusal names the fields, not the plugin's messages about them (a
// refusal is listed in /readyz): `idplug validate` shows those.
func (h *Host) vetReplacement(ctx context.Context, id string, proc *process.Process) error {
	h.mu.RLock()
	var served []*instance
	for _, c := range h.instances {
		if c.cfg.Plugin == id {
			served = append(served, c)
		}
	}
	h.mu.RUnlock()
	sort.Slice(served, func(i, j int) bool { return served[i].inst.ID < served[j].inst.ID })
	for _, c := range served {
		v, err := proc.Validate(ctx, c.inst)
		if err != nil {
			return fmt.Errorf("connector %s: checking its configuration failed (%s)", c.inst.ID, sdk.AsError(err).Code)
		}
		if len(v.Fields) > 0 {
			fields := make([]string, len(v.Fields))
			for i, f := range v.Fields {
				fields[i] = "config." + f.Field
			}
			return fmt.Errorf("connector %s: %s (idplug validate says why)", c.inst.ID, strings.Join(fields, ", "))
		}
	}
	return nil
}
