package server

import (
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two sign-ins under way at once in one browser (two tabs, a double click)
// had one flow cookie between them: the second overwrote the first, whose
// callback was refused. Each has its own now, and each finishes, in either
// order, at one connector or two, over https (__Host- cookies at /) and over
// plain http under a public path.
func TestSignInsUnderWayTogetherEachFinish(t *testing.T) {
	for _, site := range []struct{ name, public string }{{"https", "https://idp.example.test"}, {"http_under_a_path", "http://127.0.0.1:1/idp"}} {
		for _, second := range []string{"acme", "beta"} {
			for _, lastFirst := range []bool{false, true} {
				name := fmt.Sprintf("%s/acme_then_%s/last_started_finishes_first=%v", site.name, second, lastFirst)
				t.Run(name, func(t *testing.T) { testTwoSignInsFinish(t, site.public, second, lastFirst) })
			}
		}
	}
}

func testTwoSignInsFinish(t *testing.T, public, second string, lastFirst bool) {
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, func(s *Settings) { s.PublicURL, _ = url.Parse(public) })
	prefix := strings.TrimPrefix(strings.TrimPrefix(public, "https://idp.example.test"), "http://127.0.0.1:1")
	b := newJarBrowser(srv, public)

	type signIn struct{ id, state, returnTo, user string }
	flows := []signIn{{id: "acme", returnTo: prefix + "/one", user: "ada"}, {id: second, returnTo: prefix + "/two", user: "grace"}}
	for i := range flows {
		flows[i].state = b.startSignIn(t, flows[i].id, flows[i].returnTo)
	}
	if got := b.flowCookies(srv.cookies); len(got) != 2 {
		t.Fatalf("the browser holds the flow cookies %v; want one for each sign-in", got)
	}
	if lastFirst {
		slices.Reverse(flows)
	}
	for i, fl := range flows {
		rec := b.callback(fl.id, fl.user, fl.state)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != fl.returnTo {
			t.Fatalf("callback %d (%s): %d, Location %q: %.300s", i+1, fl.id, rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		if !f.hasFinished(fl.id, fl.state) {
			t.Fatalf("callback %d (%s) finished another sign-in's flow", i+1, fl.id)
		}
		own := srv.cookies.flowName(flowSlot(fl.state))
		if got := setCookies(rec); !slices.Equal(got, []string{own, srv.cookies.sessionName()}) || cookieOf(rec, own).MaxAge >= 0 {
			t.Fatalf("callback %d set %v; want its own flow cookie (%s) cleared, and the session", i+1, got, own)
		}
		if left := b.flowCookies(srv.cookies); len(left) != len(flows)-i-1 {
			t.Fatalf("after callback %d the browser holds the flow cookies %v", i+1, left)
		}
	}
	if rec := b.get("/user"); !strings.Contains(rec.Body.String(), `"id":"`+flows[1].user+`"`) {
		t.Errorf("/user = %s; want %s, the last to finish", rec.Body, flows[1].user)
	}
}

// A callback reads the one flow cookie its state names, and finishes only the
// flow sealed with that state for its connector: a made-up state (in the slot
// of a flow under way, or in a free one) or another connector's flow is
// refused before the plugin, clears nothing, and every flow under way still
// finishes.
func TestCallbackOpensOnlyItsOwnFlow(t *testing.T) {
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, nil)
	b := newJarBrowser(srv, "https://idp.example.test")
	a := b.startSignIn(t, "acme", "/a")
	bb := b.startSignIn(t, "beta", "/b")
	free := 0
	for free == flowSlot(a) || free == flowSlot(bb) {
		free++
	}

	for _, tc := range []struct {
		name, id, state, code string
	}{
		{"made-up state in a flow's slot", "acme", newStateIn(flowSlot(a)), "state mismatch"},
		{"made-up state in a free slot", "acme", newStateIn(free), "state mismatch"},
		{"no state", "acme", "", "state mismatch"},
		{"beta's flow at acme's callback", "acme", bb, "session_invalid"},
		{"acme's flow at beta's callback", "beta", a, "session_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := len(f.called())
			rec := b.callback(tc.id, "mallory", tc.state)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.code) {
				t.Errorf("%d; want 400 %s: %.300s", rec.Code, tc.code, rec.Body)
			}
			if got := setCookies(rec); len(got) > 0 {
				t.Errorf("a refused callback set %v", got)
			}
			if len(f.called()) != calls {
				t.Errorf("a refused callback reached the plugin: %v", f.called()[calls:])
			}
		})
	}
	for _, fl := range []struct{ id, state, returnTo string }{{"acme", a, "/a"}, {"beta", bb, "/b"}} {
		if rec := b.callback(fl.id, "ada", fl.state); rec.Code != http.StatusFound || rec.Header().Get("Location") != fl.returnTo {
			t.Errorf("the sign-in with %s after the forged callbacks: %d %.300s", fl.id, rec.Code, rec.Body)
		}
	}
}

// A flow cookie is read only under its own name: values swapped between two
// flows, or put under a name that is no slot's (or without the __Host-
// prefix), open nothing, clear nothing, and count for nothing at a sign-in.
func TestSwappedOrMadeUpFlowCookiesAreRefused(t *testing.T) {
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, nil)
	b := newJarBrowser(srv, "https://idp.example.test")
	a := b.startSignIn(t, "acme", "/a")
	bb := b.startSignIn(t, "acme", "/b")
	u, _ := url.Parse("https://idp.example.test/")
	nameA, nameB := srv.cookies.flowName(flowSlot(a)), srv.cookies.flowName(flowSlot(bb))
	valueA, valueB := cookieNamed(b.jar.Cookies(u), nameA).Value, cookieNamed(b.jar.Cookies(u), nameB).Value

	callback := func(state string, cookies ...*http.Cookie) (int, string, []string) {
		rec := browserRequest(srv, "GET", "/callback/acme?code=mallory&state="+url.QueryEscape(state), "", nil, cookies...)
		return rec.Code, rec.Body.String(), setCookies(rec)
	}
	swapped := []*http.Cookie{{Name: nameA, Value: valueB}, {Name: nameB, Value: valueA}}
	for _, state := range []string{a, bb} {
		if code, body, set := callback(state, swapped...); code != http.StatusBadRequest || !strings.Contains(body, "state mismatch") || len(set) > 0 {
			t.Errorf("swapped cookies: %d, set %v: %.200s", code, set, body)
		}
	}
	madeUp := []string{"__Host-idplug_flow_8", "__Host-idplug_flow_x", "__Host-idplug_flow_03", "__Host-idplug_flow_",
		"__Host-idplug_flow_-1", "idplug_flow_" + nameA[len(nameA)-1:], "__Secure-idplug_flow_" + nameA[len(nameA)-1:]}
	for _, name := range madeUp {
		code, body, set := callback(a, &http.Cookie{Name: name, Value: valueA})
		if code != http.StatusBadRequest || !strings.Contains(body, "not started in this browser") || len(set) > 0 {
			t.Errorf("flow cookie named %s: %d, set %v: %.200s", name, code, set, body)
		}
	}
	if slices.Contains(f.called(), "UserInfo") {
		t.Errorf("a refused callback reached the plugin: %v", f.called())
	}
	// A sign-in counts only its own names: made-up ones take no slot.
	var jam []*http.Cookie
	for _, name := range madeUp {
		jam = append(jam, &http.Cookie{Name: name, Value: valueA})
	}
	rec := browserRequest(srv, "GET", "/sign-in/acme", "", nil, jam...)
	if set := setCookies(rec); rec.Code != http.StatusFound || len(set) != 1 {
		t.Errorf("a sign-in among made-up flow cookies: %d, set %v; want its own cookie only", rec.Code, set)
	}
	for _, fl := range []struct{ state, returnTo string }{{a, "/a"}, {bb, "/b"}} {
		if rec := b.callback("acme", "ada", fl.state); rec.Code != http.StatusFound || rec.Header().Get("Location") != fl.returnTo {
			t.Errorf("the genuine cookies: %d %.300s", rec.Code, rec.Body)
		}
	}
}

// A page that makes the browser start sign-in after sign-in leaves it at
// most maxPendingFlows flow cookies, each living no longer than its flow: a
// new sign-in takes the oldest flow's slot (cleared first, so that the
// browser dates the cookie anew), the oldest flows' callbacks are refused
// and clear nothing, and the newest all finish.
func TestBrowserKeepsTheNewestSignIns(t *testing.T) {
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, func(s *Settings) { s.FlowTTL = 7 * time.Minute })
	b := newJarBrowser(srv, "https://idp.example.test")
	const started = 3 * maxPendingFlows
	states := make([]string, started)
	for i := range states {
		rec := b.get("/sign-in/acme?returnTo=" + url.QueryEscape(fmt.Sprintf("/%d", i)))
		loc, _ := url.Parse(rec.Header().Get("Location"))
		states[i] = loc.Query().Get("state")
		name := srv.cookies.flowName(flowSlot(states[i]))
		set := rec.Result().Cookies()
		switch {
		case i < maxPendingFlows && len(set) != 1:
			t.Fatalf("sign-in %d of %d set %v; want its flow cookie alone", i+1, started, setCookies(rec))
		case i >= maxPendingFlows && (len(set) != 2 || set[0].Name != name || set[0].MaxAge >= 0):
			t.Fatalf("sign-in %d of %d set %v; want the oldest flow's cookie (%s) cleared, then its own in its slot", i+1, started, setCookies(rec), name)
		}
		if own := set[len(set)-1]; own.Name != name || own.MaxAge != 7*60 {
			t.Fatalf("sign-in %d's flow cookie is %s for %ds; want %s for the flow's 420s", i+1, own.Name, own.MaxAge, name)
		}
		if held := b.flowCookies(srv.cookies); len(held) > maxPendingFlows || len(held) != min(i+1, maxPendingFlows) {
			t.Fatalf("after %d sign-ins the browser holds %d flow cookies", i+1, len(held))
		}
	}
	for i, state := range states[:started-maxPendingFlows] {
		rec := b.callback("acme", "ada", state)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "keeps the 8 newest") || len(setCookies(rec)) > 0 {
			t.Fatalf("the callback of sign-in %d, which gave way: %d, set %v: %.300s", i+1, rec.Code, setCookies(rec), rec.Body)
		}
	}
	for i := started - 1; i >= started-maxPendingFlows; i-- {
		if rec := b.callback("acme", "ada", states[i]); rec.Code != http.StatusFound || rec.Header().Get("Location") != fmt.Sprintf("/%d", i) {
			t.Fatalf("the callback of sign-in %d: %d %.300s", i+1, rec.Code, rec.Body)
		}
	}
	if held := b.flowCookies(srv.cookies); len(held) > 0 {
		t.Errorf("every sign-in finished, and the browser still holds %v", held)
	}
}

// A page that makes a browser start sign-ins with a long returnTo (or at a
// connector whose session is large) could fill the eight slots with cookies
// of some 1.7 to 3.9 KB: sent with every request to the origin, a Cookie
// header that nginx, Apache and Node refuse by default, locking the browser
// out of the whole host until they expired. The flow cookies together stay
// within what the single cookie of earlier releases could reach: the oldest
// flows give way, and the newest sign-in still finishes.
func TestFlowCookiesStayWithinTheirByteBudget(t *testing.T) {
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, func(*Settings) {})
	b := newJarBrowser(srv, "https://idp.example.test")
	long := "/" + strings.Repeat("a", 1000)
	var last string
	for i := range 2 * maxPendingFlows {
		rec := b.get("/sign-in/acme?returnTo=" + url.QueryEscape(fmt.Sprintf("%s?n=%d", long, i)))
		loc, _ := url.Parse(rec.Header().Get("Location"))
		last = loc.Query().Get("state")
		u, _ := url.Parse(b.base + "/")
		total := 0
		for _, ck := range b.jar.Cookies(u) {
			if _, ok := srv.cookies.flowSlotOf(ck.Name); ok {
				total += len(ck.Name) + len(ck.Value)
			}
		}
		if total > maxFlowCookieBytes {
			t.Fatalf("after %d sign-ins with a long returnTo the browser holds %d bytes of flow cookies; want at most %d",
				i+1, total, maxFlowCookieBytes)
		}
	}
	if rec := b.callback("acme", "ada", last); rec.Code != http.StatusFound {
		t.Fatalf("the newest sign-in's callback: %d %.300s", rec.Code, rec.Body)
	}
	// Sign-ins of a usual size still fit eight at once.
	b = newJarBrowser(srv, "https://idp.example.test")
	for range maxPendingFlows {
		b.get("/sign-in/acme?returnTo=%2F")
	}
	if held := b.flowCookies(srv.cookies); len(held) != maxPendingFlows {
		t.Errorf("after %d sign-ins of a usual size the browser holds %d flow cookies; want all of them", maxPendingFlows, len(held))
	}
}

// Requests in flight together each carry the cookies from before them, so no
// count a sign-in keeps could bound them: with a name for each flow, a page
// that makes the browser start 64 sign-ins at once, each flow cookie near the
// largest, would leave it one cookie each, and every later request over the
// header limit (431). The slots hold: over a real connection, with idplug
// serve's header limit, the browser keeps at most maxPendingFlows, its
// requests are read, and the sign-ins it kept each finish.
func TestSignInsStartedAtOnceStayWithinTheCap(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + lis.Addr().String()
	f := newFlowInstances("https://provider.test/authorize")
	f.pad = 2500 // a flow cookie of some 3,800 bytes, near maxCookieLen
	srv := newUnitServer(t, f, func(s *Settings) { s.PublicURL, _ = url.Parse(public) })
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: MaxHeaderBytes}
	go func() { _ = hs.Serve(lis) }()
	t.Cleanup(func() { _ = hs.Close() })

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	get := func(path string) (*http.Response, error) {
		resp, err := c.Get(public + path)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}

	const started = 64
	states := make([]string, started)
	var wg sync.WaitGroup
	errs := make(chan error, started)
	for i := range started {
		wg.Go(func() {
			resp, err := get("/sign-in/acme")
			if err != nil || resp.StatusCode != http.StatusFound {
				errs <- fmt.Errorf("sign-in %d: %v %v", i, resp, err)
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			states[i] = loc.Query().Get("state")
			if ck := cookieNamed(resp.Cookies(), srv.cookies.flowName(flowSlot(states[i]))); ck == nil || len(ck.Value) < 3500 {
				errs <- fmt.Errorf("sign-in %d set no flow cookie near the largest (it set %v)", i, namesOf(resp.Cookies()))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	u, _ := url.Parse(public + "/")
	held := 0
	for _, ck := range jar.Cookies(u) {
		if _, ok := srv.cookies.flowSlotOf(ck.Name); ok {
			held++
		}
	}
	if held == 0 || held > maxPendingFlows {
		t.Fatalf("after %d sign-ins at once the browser holds %d flow cookies; want 1 to %d", started, held, maxPendingFlows)
	}
	resp, err := get("/user")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a request with every cookie the browser holds: %v %v", resp, err)
	}
	finished := 0
	for _, state := range states {
		resp, err := get("/callback/acme?code=ada&state=" + url.QueryEscape(state))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusFound {
			finished++
		}
	}
	if finished != held {
		t.Errorf("%d sign-ins finished; want the %d whose flow cookies the browser kept", finished, held)
	}
}

// A browser in the middle of a sign-in while idplug is upgraded holds the
// single flow cookie of earlier releases (idplug_flow, scoped to the
// callback over plain http): its callback still finishes and clears it where
// it was set, and a forged callback is refused as before and clears nothing.
func TestFlowCookieOfAnEarlierReleaseStillFinishes(t *testing.T) {
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, func(s *Settings) { s.PublicURL, _ = url.Parse("http://127.0.0.1:1/idp") })
	state := newState()
	sealed, err := srv.sealJSON(browserFlowPurpose("acme"),
		srv.stampFlow(flow{Session: map[string]string{"connector": "acme", "state": state}, State: state, ReturnTo: "/idp/done"}), srv.settings.FlowTTL)
	if err != nil {
		t.Fatal(err)
	}
	old := &http.Cookie{Name: "idplug_flow", Value: sealed}

	rec := browserRequest(srv, "GET", "/idp/callback/acme?code=ada&state="+url.QueryEscape(newState()), "", nil, old)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "state mismatch") || len(setCookies(rec)) > 0 {
		t.Errorf("a forged callback: %d, set %v: %.200s", rec.Code, setCookies(rec), rec.Body)
	}
	rec = browserRequest(srv, "GET", "/idp/callback/acme?code=ada&state="+url.QueryEscape(state), "", nil, old)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/idp/done" {
		t.Fatalf("the earlier release's flow: %d %.300s", rec.Code, rec.Body)
	}
	if c := cookieOf(rec, "idplug_flow"); c == nil || c.Path != "/idp/callback/acme" || c.MaxAge >= 0 {
		t.Errorf("the earlier release's flow cookie is not cleared where it was set: %v", c)
	}
}
