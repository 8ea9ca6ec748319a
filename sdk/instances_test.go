package sdk

import (
	"errors"
	"testing"
)

// A failure that says nothing about the configuration (the Logto bridge's Node
// did not start, a check timed out) is not kept for the configuration's
// version: the plugin still answers, so it is never restarted, and a kept
// failure would fail every call of that instance until it was.
func TestOnlySettledParsesAreKept(t *testing.T) {
	calls := 0
	outcomes := []error{
		Errorf(CodeGeneral, "Node process exited before it answered"),
		nil,
	}
	cache := newInstanceCache(func(raw []byte) (string, error) {
		err := outcomes[min(calls, len(outcomes)-1)]
		calls++
		return string(raw), err
	})
	if _, err := cache.get(inst("a", "v1", "cfg")); err == nil {
		t.Fatal("the first parse failed, yet get succeeded")
	}
	if cfg, err := cache.get(inst("a", "v1", "cfg")); err != nil || cfg != "cfg" {
		t.Fatalf("the same version again: %q, %v; the transient failure was kept", cfg, err)
	}
	if _, err := cache.get(inst("a", "v1", "")); err != nil || calls != 2 {
		t.Fatalf("a call without the configuration: %v after %d parses", err, calls)
	}

	// A verdict on the configuration is kept: it does not change by asking again.
	for _, verdict := range []error{(&ConfigError{Fields: []FieldError{{Field: "x", Message: "bad"}}}), Errorf(CodeInvalidConfig, "no")} {
		calls = 0
		cache := newInstanceCache(func(raw []byte) (string, error) { calls++; return "", verdict })
		for range 3 {
			if _, err := cache.get(inst("b", "v1", "cfg")); !errors.Is(err, verdict) {
				t.Fatalf("err = %v", err)
			}
		}
		if calls != 1 {
			t.Errorf("%v: parsed %d times", verdict, calls)
		}
	}
}
