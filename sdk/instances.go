package sdk

import (
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

	mu sync.RWMutex
	m  map[string]*instanceEntry[C]
	// retired holds, per instance, the configuration a newer version replaced, until
	// the host releases it: the host checks a new configuration (and so makes this
	// process parse it) before it releases the old one. One per instance, so a host
	// that never releases costs at most one extra configuration per instance.
	retired map[string]*instanceEntry[C]
}

type instanceEntry[C any] struct {
	version string
	cfg     C
	err     error
}

func newInstanceCache[C any](parse func([]byte) (C, error)) *instanceCache[C] {
	return &instanceCache[C]{parse: parse, m: map[string]*instanceEntry[C]{}, retired: map[string]*instanceEntry[C]{}}
}

// get returns the parsed configuration of in, parsing and caching it when the call
// carries a configuration this process has not seen.
func (c *instanceCache[C]) get(in *connectorv1.Instance) (C, error) {
	id, version := in.GetId(), in.GetConfigVersion()
	if version != "" {
		c.mu.RLock()
		e := c.m[id]
		c.mu.RUnlock()
		if e != nil && e.version == version {
			return e.cfg, e.err
		}
	}
	if len(in.GetConfig()) == 0 {
		var zero C
		return zero, errConfigRequired
	}
	cfg, err := c.safeParse(in.GetConfig())
	if version != "" && settled(err) {
		c.mu.Lock()
		if old := c.m[id]; old != nil && old.version != version {
			c.retired[id] = old
		}
		c.m[id] = &instanceEntry[C]{version: version, cfg: cfg, err: err}
		c.mu.Unlock()
	}
	return cfg, err
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
