package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
)

// errConfigRequired tells the host to resend a call with the instance's configuration:
// this process has not seen that configuration version (it restarted, or it is new).
var errConfigRequired = errors.New("configuration required")

// instanceCache keeps each instance's parsed configuration, so ParseConfig runs once per
// instance and configuration version instead of once per call (or until it
// succeeds or finds the configuration invalid).
type instanceCache[C any] struct {
	parse func([]byte) (C, error)
	// drop is given each parsed configuration the cache lets go of before the
	// host released it, so that what it holds is released all the same; nil
	// when the connector has nothing to release.
	drop func(ctx context.Context, id string, cfg C)

	mu sync.RWMutex
	m  map[string]*instanceEntry[C]
	// retired holds, per instance, the configuration a newer version replaced, until
	// the host releases it: the host checks a new configuration (and so makes this
	// process parse it) before it releases the old one. One per instance, so a host
	// that never releases costs at most one extra configuration per instance.
	retired map[string]*instanceEntry[C]
	// parsing holds the parses under way. The host sends a configuration with
	// every call until one succeeds (after a restart, say), so calls that arrive
	// together carry the same one: they wait for the first one's parse.
	parsing map[instanceVersion]*pendingParse[C]
}

type instanceEntry[C any] struct {
	version string
	cfg     C
	err     error
}

type instanceVersion struct{ id, version string }

// pendingParse is one parse under way; cfg and err are set before done closes.
type pendingParse[C any] struct {
	done chan struct{}
	cfg  C
	err  error
}

func newInstanceCache[C any](parse func([]byte) (C, error)) *instanceCache[C] {
	return &instanceCache[C]{parse: parse, m: map[string]*instanceEntry[C]{},
		retired: map[string]*instanceEntry[C]{}, parsing: map[instanceVersion]*pendingParse[C]{}}
}

// get returns the parsed configuration of in, parsing and caching it when the call
// carries a configuration this process has not seen. A call that finds its version
// being parsed waits for that parse, for as long as ctx lets it, and shares its
// outcome.
func (c *instanceCache[C]) get(ctx context.Context, in *connectorv1.Instance) (C, error) {
	var zero C
	id, version := in.GetId(), in.GetConfigVersion()
	if version == "" { // nothing to keep it under
		if len(in.GetConfig()) == 0 {
			return zero, errConfigRequired
		}
		return c.safeParse(in.GetConfig())
	}
	key := instanceVersion{id, version}
	c.mu.RLock()
	e := c.lookup(id, version)
	c.mu.RUnlock()
	if e != nil {
		return e.cfg, e.err
	}
	c.mu.Lock()
	if e := c.lookup(id, version); e != nil {
		c.mu.Unlock()
		return e.cfg, e.err
	}
	if p := c.parsing[key]; p != nil {
		c.mu.Unlock()
		select {
		case <-p.done:
			return p.cfg, p.err
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
	if len(in.GetConfig()) == 0 {
		c.mu.Unlock()
		return zero, errConfigRequired
	}
	p := &pendingParse[C]{done: make(chan struct{})}
	c.parsing[key] = p
	c.mu.Unlock()

	p.cfg, p.err = c.safeParse(in.GetConfig())
	dropped := c.keep(key, p)
	close(p.done)
	if dropped != nil && dropped.err == nil && c.drop != nil {
		c.drop(ctx, id, dropped.cfg)
	}
	return p.cfg, p.err
}

// lookup is the cached configuration of instance id at version, current or
// retired (a call of the old version may come while the new one is checked).
func (c *instanceCache[C]) lookup(id, version string) *instanceEntry[C] {
	for _, e := range []*instanceEntry[C]{c.m[id], c.retired[id]} {
		if e != nil && e.version == version {
			return e
		}
	}
	return nil
}

// keep ends the parse p of key, caching its outcome when it settled, and
// returns the entry the cache lets go of, if any: the retired one a third
// version pushes out. A version the host released while it parsed is kept
// all the same: the call that parsed it, and those waiting, still use it, so
// it cannot be released now; a newer version pushes it out, to Release, as
// any other (one per instance at most).
func (c *instanceCache[C]) keep(key instanceVersion, p *pendingParse[C]) (dropped *instanceEntry[C]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.parsing, key)
	e := &instanceEntry[C]{version: key.version, cfg: p.cfg, err: p.err}
	if !settled(p.err) {
		return nil
	}
	if cur := c.m[key.id]; cur != nil {
		dropped = c.retired[key.id]
		c.retired[key.id] = cur
	}
	c.m[key.id] = e
	return dropped
}

// settled says whether a parse's outcome holds for its configuration version:
// a success, or a verdict on the configuration. Any other failure (a runtime
// the connector starts that did not start, a check that timed out) is not
// kept, so the next call parses again instead of failing until the plugin
// restarts, which a plugin that still answers never does.
func settled(err error) bool {
	if err == nil {
		return true
	}
	var ce *ConfigError
	var e *Error
	return errors.As(err, &ce) || errors.As(err, &e) && e.Code == CodeInvalidConfig
}

// release drops the configuration of instance id at version, current or retired,
// and returns it when it parsed. A release for an older version leaves a newer one
// in place: a call may have cached the new version before the release arrived.
func (c *instanceCache[C]) release(id, version string) (cfg C, held bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var e *instanceEntry[C]
	switch {
	case c.m[id] != nil && c.m[id].version == version:
		e = c.m[id]
		delete(c.m, id)
	case c.retired[id] != nil && c.retired[id].version == version:
		e = c.retired[id]
		delete(c.retired, id)
	default:
		return cfg, false
	}
	return e.cfg, e.err == nil
}

// safeParse keeps a panic in the author's ParseConfig from taking the plugin down.
func (c *instanceCache[C]) safeParse(raw []byte) (cfg C, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Errorf(CodeInvalidConfig, "parsing the configuration panicked: %v", r)
		}
	}()
	return c.parse(raw)
}

func (c *instanceCache[C]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *instanceCache[C]) String() string { return fmt.Sprintf("%d instances", c.len()) }
