package sdk

import (
	"testing"
	"time"
)

// Serve runs with Go's runtime settings unless a plugin asks for others; the
// options that set the GC target override one another in order.
func TestServeOptions(t *testing.T) {
	o := newServeOptions(nil)
	if o.adaptiveProcs || o.gcHeadroom != 0 || o.gcPercent != nil || o.parentCheck != time.Second {
		t.Fatalf("defaults: %+v, want Go's runtime settings and a parent check every second", o)
	}

	o = newServeOptions([]ServeOption{WithAdaptiveProcs(true), WithGCHeadroom(DefaultGCHeadroom)})
	if !o.adaptiveProcs || o.gcHeadroom != DefaultGCHeadroom || o.gcPercent != nil {
		t.Fatalf("the bundled plugins' options: %+v", o)
	}

	o = newServeOptions([]ServeOption{WithGCHeadroom(DefaultGCHeadroom), WithGCPercent(200)})
	if o.gcPercent == nil || *o.gcPercent != 200 || o.gcHeadroom != 0 {
		t.Fatalf("WithGCPercent after WithGCHeadroom: %+v, want percent 200", o)
	}
	o = newServeOptions([]ServeOption{WithGCPercent(200), WithGCHeadroom(1 << 20)})
	if o.gcPercent != nil || o.gcHeadroom != 1<<20 {
		t.Fatalf("WithGCHeadroom after WithGCPercent: %+v, want a headroom of 1 MiB", o)
	}

	o = newServeOptions([]ServeOption{WithAdaptiveProcs(true), WithAdaptiveProcs(false), WithParentCheck(0)})
	if o.adaptiveProcs || o.parentCheck != 0 {
		t.Fatalf("turned off again: %+v", o)
	}
}
