package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk"
)

// validateConcurrency bounds the ValidateConfig calls in flight during Configure.
const validateConcurrency = 16

var instanceIDRE = wire.InstanceIDRE

// Problem is one reason a configuration was refused.
type Problem struct {
	// Instance is the instance id (or its position when the id is missing); the
	// JSON name is the configuration file's word for it.
	Instance string `json:"connector"`
	// Field is a path such as "plugin" or "config.tokenEndpoint".
	Field   string `json:"field"`
	Message string `json:"message"`
	// File and Line say where the field is written, when the configuration
	// came from a file (see ValidationError.Locate); Line is 0 otherwise.
	File string `json:"-"`
	Line int    `json:"line,omitempty"`

	index int // the connector's position in the configuration, for sorting
}

// ValidationError lists every problem of a refused configuration.
type ValidationError struct {
	Problems []Problem
}

// ProblemDetails is the problems as an API answer's details list them.
func (e *ValidationError) ProblemDetails() any { return e.Problems }

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = fmt.Sprintf("connector %s: %s: %s", p.Instance, p.Field, p.Message)
		if p.File != "" && p.Line > 0 {
			lines[i] = fmt.Sprintf("%s:%d: %s", p.File, p.Line, lines[i])
		}
	}
	return "invalid connector configuration:\n  " + strings.Join(lines, "\n  ")
}

// Locate sets each problem's File to file and its Line to what line says of
// the instance at that position of the configuration and the field, so the
// problems read like the file's own ("idplug.yaml:14: connector acme:
// config.clientId: is required").
func (e *ValidationError) Locate(file string, line func(index int, field string) int) {
	for i := range e.Problems {
		e.Problems[i].File = file
		e.Problems[i].Line = line(e.Problems[i].index, e.Problems[i].Field)
	}
}

// Configure checks every instance (ids, plugins, targets, and each configuration with
// its plugin) and, when all are valid, makes them the served set. On any problem it
// changes nothing and returns a *ValidationError listing all of them.
func (h *Host) Configure(ctx context.Context, cfgs []InstanceConfig) error {
	// No replacement is checked and swapped in meanwhile. A rescan checking
	// a slow replacement holds this for up to its start timeout: a reload
	// whose context ends meanwhile (idplug serve's SIGHUP at a SIGTERM)
	// changes nothing, and does not hold up the shutdown.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("the configuration was not applied: %w", err)
	}
	select {
	case h.reconfig <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("the configuration was not applied: a check of a replaced plugin was still running when the reload was called off: %w", ctx.Err())
	}
	defer func() { <-h.reconfig }()
	var (
		problems []Problem
		built    = make([]*instance, len(cfgs))
		procs    = make([]*process.Process, len(cfgs))
		ids      = map[string]bool{}
		targets  = map[string]string{}
	)
	add := func(index int, conn, field, format string, args ...any) {
		problems = append(problems, Problem{Instance: conn, Field: field, Message: fmt.Sprintf(format, args...), index: index})
	}
	for i, c := range cfgs {
		name := c.ID
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		switch {
		case c.ID == "":
			add(i, name, "id", "is required")
		case len(c.ID) > wire.MaxInstanceIDLen:
			name = c.ID[:wire.MaxInstanceIDLen] + "..."
			add(i, name, "id", "is %d bytes, at most %d", len(c.ID), wire.MaxInstanceIDLen)
		case !instanceIDRE.MatchString(c.ID):
			add(i, name, "id", "must match %s", instanceIDRE)
		case ids[c.ID]:
			add(i, name, "id", "is used by another connector")
		}
		ids[c.ID] = true
		target := c.Target
		if target == "" {
			target = c.ID
		}
		if other, dup := targets[target]; dup && target != "" {
			add(i, name, "target", "%q is already the target of connector %s", target, other)
		}
		targets[target] = name
		meta, ok := h.Metadata(c.Plugin)
		if !ok {
			// The file named for the id was refused: say why, not only
			// that no such plugin runs.
			if why, refused := h.refusedFile(catalog.Prefix + c.Plugin); refused {
				add(i, name, "plugin", "the file %s%s was refused: %s", catalog.Prefix, c.Plugin, why)
				continue
			}
			add(i, name, "plugin", "no plugin with id %q runs (plugins: %s)", c.Plugin, strings.Join(h.PluginIDs(), ", "))
			continue
		}
		proc, err := h.Start(ctx, c.Plugin)
		if err != nil {
			add(i, name, "plugin", "%v", err)
			continue
		}
		if !meta.IsStandard && c.Target != "" && c.Target != meta.Target {
			add(i, name, "target", "plugin %s is not a standard connector; its target is %q", c.Plugin, meta.Target)
		}
		config := c.Config
		if len(config) == 0 {
			config = json.RawMessage("{}")
		}
		sum := sha256.Sum256(config)
		c.Target = target
		built[i] = &instance{
			cfg:  c,
			inst: process.Instance{ID: c.ID, Version: hex.EncodeToString(sum[:16]), Config: config},
		}
		procs[i] = proc
	}

	// The plugins check their instances, a bounded number at a time: ten thousand
	// calls at once would only swell both processes' memory for good.
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, validateConcurrency)
	for i, b := range built {
		if b == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			v, err := procs[i].Validate(ctx, b.inst)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				add(i, b.inst.ID, "config", "%v", err)
				return
			}
			for _, f := range v.Fields {
				add(i, b.inst.ID, "config."+f.Field, "%s", f.Message)
			}
			if err := sdk.CheckProviderIdentity(v.Provider); err != nil {
				add(i, b.inst.ID, "config", "plugin %s named the provider of this configuration's tokens in a way idplug cannot keep: %v", b.cfg.Plugin, err)
				return
			}
			b.provider = v.Provider
			if v.Template != nil {
				// The plugin's template makes URLs that go to browsers: a
				// template that would weaken a flow is the plugin's fault.
				if err := v.Template.Check(); err != nil {
					add(i, b.inst.ID, "config", "plugin %s declared an authorization template that cannot be used: %v", b.cfg.Plugin, err)
					return
				}
				b.template, b.templateFrom = v.Template, procs[i]
			}
		}()
	}
	wg.Wait()
	if len(problems) > 0 {
		// Report top to bottom, like the file reads.
		sort.SliceStable(problems, func(i, j int) bool {
			if problems[i].index != problems[j].index {
				return problems[i].index < problems[j].index
			}
			return problems[i].Field < problems[j].Field
		})
		h.keepServed(ctx)
		return &ValidationError{Problems: problems}
	}

	h.mu.Lock()
	previous := h.instances
	h.instances = make(map[string]*instance, len(built))
	h.order = make([]string, 0, len(built))
	for _, b := range built {
		h.instances[b.inst.ID] = b
		h.order = append(h.order, b.inst.ID)
	}
	current := h.instances
	h.mu.Unlock()
	h.releaseLeftovers(previous, current)
	h.keepServed(ctx)
	return nil
}

// keepServed keeps running the plugins of the served instances, and (with
// Options.OnDemand) only those.
func (h *Host) keepServed(ctx context.Context) {
	h.mu.RLock()
	ids := make([]string, 0, len(h.instances))
	for _, c := range h.instances {
		ids = append(ids, c.cfg.Plugin)
	}
	h.mu.RUnlock()
	h.Keep(ctx, ids)
}

// refusedFile is why the plugin file named file was refused, if it was.
func (h *Host) refusedFile(file string) (string, bool) {
	for _, e := range h.Refused() {
		if e.File == file {
			return e.Reason, true
		}
	}
	return "", false
}
