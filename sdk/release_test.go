package sdk

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
)

// releasingConnector records each Release, and panics on the greeting "release-panic".
type releasingConnector struct {
	testConnector
	mu       sync.Mutex
	released []string // "id:greeting"
}

func (c *releasingConnector) Release(ctx context.Context, id string, cfg testConfig) {
	if cfg.Greeting == "release-panic" {
		panic("release exploded")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = append(c.released, id+":"+cfg.Greeting)
	Logger(ctx).Info("released")
}

func (c *releasingConnector) calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.released...)
}

func release(t *testing.T, client connectorv1.ConnectorServiceClient, ins ...*connectorv1.Instance) {
	t.Helper()
	if _, err := client.ReleaseInstances(context.Background(), &connectorv1.ReleaseInstancesRequest{Instances: ins}); err != nil {
		t.Fatalf("ReleaseInstances: %v", err)
	}
}

// use makes the plugin cache instance id at version, or checks it still holds it
// when config is empty.
func use(client connectorv1.ConnectorServiceClient, id, version, config string) error {
	_, err := client.GetAuthorizationUri(context.Background(),
		&connectorv1.GetAuthorizationUriRequest{Instance: inst(id, version, config), State: "s"})
	return err
}

func TestReleaseDropsTheCachedConfigAndCallsRelease(t *testing.T) {
	c := &releasingConnector{}
	var logs bytes.Buffer
	client := dialConnector(t, c, &logs)

	for _, id := range []string{"a", "b"} {
		if err := use(client, id, "v1", `{"greeting":"hi-`+id+`"}`); err != nil {
			t.Fatal(err)
		}
	}
	release(t, client, inst("a", "v1", ""))
	if err := use(client, "a", "v1", ""); err == nil || !detail(t, err).GetConfigRequired() {
		t.Fatalf("a released instance must ask for its configuration again, got %v", err)
	}
	if err := use(client, "b", "v1", ""); err != nil {
		t.Fatalf("b was not released: %v", err)
	}
	if got := c.calls(); len(got) != 1 || got[0] != "a:hi-a" {
		t.Fatalf("Release calls = %v, want [a:hi-a]", got)
	}
	if !strings.Contains(logs.String(), `"instance":"a"`) {
		t.Fatalf("Release's logger does not name the instance: %s", logs.String())
	}

	// A release of something the plugin does not hold (unknown id, already
	// released) is a no-op, not an error.
	release(t, client, inst("a", "v1", ""), inst("nobody", "v9", ""))
	if got := c.calls(); len(got) != 1 {
		t.Fatalf("Release ran again for nothing held: %v", got)
	}
}

func TestReleaseOfAnOlderVersionKeepsTheNewerOne(t *testing.T) {
	c := &releasingConnector{}
	client := dialConnector(t, c, &bytes.Buffer{})

	if err := use(client, "a", "v1", `{"greeting":"old"}`); err != nil {
		t.Fatal(err)
	}
	// A call with the new version arrives before the host's release of the old one.
	if err := use(client, "a", "v2", `{"greeting":"new"}`); err != nil {
		t.Fatal(err)
	}
	release(t, client, inst("a", "v1", ""))
	if err := use(client, "a", "v2", ""); err != nil {
		t.Fatalf("releasing v1 dropped v2: %v", err)
	}
	// Release still gets the old configuration, to drop what it kept for it.
	if got := c.calls(); len(got) != 1 || got[0] != "a:old" {
		t.Fatalf("Release calls = %v, want [a:old]", got)
	}
	release(t, client, inst("a", "v1", ""))
	if got := c.calls(); len(got) != 1 {
		t.Fatalf("Release ran twice for v1: %v", got)
	}
	release(t, client, inst("a", "v2", ""))
	if got := c.calls(); len(got) != 2 || got[1] != "a:new" {
		t.Fatalf("Release calls = %v, want [a:old a:new]", got)
	}

}

func TestPanickingReleaseDoesNotStopThePlugin(t *testing.T) {
	c := &releasingConnector{}
	var logs bytes.Buffer
	client := dialConnector(t, c, &logs)

	if err := use(client, "bad", "v1", `{"greeting":"release-panic"}`); err != nil {
		t.Fatal(err)
	}
	if err := use(client, "good", "v1", `{"greeting":"hi"}`); err != nil {
		t.Fatal(err)
	}
	// The panic in the first instance's Release neither fails the call nor skips the second.
	release(t, client, inst("bad", "v1", ""), inst("good", "v1", ""))
	if got := c.calls(); len(got) != 1 || got[0] != "good:hi" {
		t.Fatalf("Release calls = %v, want [good:hi]", got)
	}
	if !strings.Contains(logs.String(), "releasing the instance panicked") {
		t.Fatalf("the panic was not logged: %s", logs.String())
	}
	if err := use(client, "bad", "v1", ""); err == nil || !detail(t, err).GetConfigRequired() {
		t.Fatalf("the panicking instance's configuration must still be dropped, got %v", err)
	}
	if err := use(client, "x", "v1", `{"greeting":"still serving"}`); err != nil {
		t.Fatalf("the plugin stopped serving after a panicking Release: %v", err)
	}
}

func TestReleaseWithoutReleaserOnlyDropsTheCache(t *testing.T) {
	client := dial(t, &testConnector{}, &bytes.Buffer{})
	if err := use(client, "a", "v1", `{"greeting":"hi"}`); err != nil {
		t.Fatal(err)
	}
	release(t, client, inst("a", "v1", ""))
	if err := use(client, "a", "v1", ""); err == nil || !detail(t, err).GetConfigRequired() {
		t.Fatalf("got %v, want configuration required", err)
	}
}

// Replaced configurations wait for their release, one per instance at most; the
// one a third version pushes out is dropped, and handed to drop (Release).
func TestRetiredConfigurationsAreBounded(t *testing.T) {
	cache := newInstanceCache(func(raw []byte) (string, error) { return string(raw), nil })
	var dropped []string
	cache.drop = func(_ context.Context, id, cfg string) { dropped = append(dropped, id+":"+cfg) }
	for _, v := range []string{"v1", "v2", "v3"} {
		if _, err := cache.get(t.Context(), inst("a", v, v)); err != nil {
			t.Fatal(err)
		}
	}
	if len(cache.m) != 1 || len(cache.retired) != 1 || cache.retired["a"].version != "v2" {
		t.Fatalf("current %d, retired %v: want one of each, v2 retired", len(cache.m), cache.retired)
	}
	if len(dropped) != 1 || dropped[0] != "a:v1" {
		t.Fatalf("dropped %v, want [a:v1]", dropped)
	}
	if _, held := cache.release("a", "v1"); held {
		t.Fatal("v1 was already superseded twice, yet released as held")
	}
	if cfg, held := cache.release("a", "v2"); !held || cfg != "v2" {
		t.Fatalf("release v2 = %q, %v", cfg, held)
	}
	if cfg, held := cache.release("a", "v3"); !held || cfg != "v3" || len(cache.m)+len(cache.retired) != 0 {
		t.Fatalf("release v3 = %q, %v; left %d + %d", cfg, held, len(cache.m), len(cache.retired))
	}
	if len(dropped) != 1 {
		t.Fatalf("dropped %v: what the host released is its Release's, not drop's", dropped)
	}
}

// A configuration the plugin stops keeping before the host released it (a host
// that changed it twice without a release in between) still gets its Release.
func TestAConfigurationPushedOutIsReleased(t *testing.T) {
	c := &releasingConnector{}
	client := dialConnector(t, c, &bytes.Buffer{})
	for i, v := range []string{"v1", "v2", "v3"} {
		if err := use(client, "a", v, `{"greeting":"g`+v+`"}`); err != nil {
			t.Fatal(err)
		}
		if got := c.calls(); len(got) != max(0, i-1) {
			t.Fatalf("after %s: Release calls = %v", v, got)
		}
	}
	if got := c.calls(); got[0] != "a:gv1" {
		t.Fatalf("Release calls = %v, want [a:gv1]", got)
	}
}

// A release of the version being parsed does not release the configuration
// the parse makes: the call that parsed it, and any waiting for it, use it
// after. It is kept as any other and released when newer versions push it out.
func TestAReleaseDuringItsParseReleasesNothingInUse(t *testing.T) {
	b := newBlockingParse(t, nil)
	cache := newInstanceCache(b.parse)
	dropped := make(chan string, 4)
	cache.drop = func(_ context.Context, id, cfg string) { dropped <- id + ":" + cfg }
	first := startGet(t.Context(), cache, inst("a", "v1", "cfg"))
	<-b.entered
	if _, held := cache.release("a", "v1"); held {
		t.Fatal("a configuration still parsing was released as held")
	}
	b.finish()
	if r := <-first; r.err != nil || r.cfg != "cfg" {
		t.Fatalf("the call itself: %q, %v", r.cfg, r.err)
	}
	select {
	case got := <-dropped:
		t.Fatalf("%s was released while its call still used it", got)
	default:
	}
	// Two newer versions push it out, and it is released then.
	for _, v := range []string{"v2", "v3"} {
		if _, err := cache.get(t.Context(), inst("a", v, "cfg-"+v)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case got := <-dropped:
		if got != "a:cfg" {
			t.Fatalf("dropped %q, want a:cfg", got)
		}
	default:
		t.Fatal("the configuration parsed during its release was never released")
	}
}
