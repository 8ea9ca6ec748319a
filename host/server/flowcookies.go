package server

import (
	"crypto/sha256"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// Every sign-in under way in a browser has a flow cookie of its own, so that
// sign-ins started together (two tabs, two apps signing in through the OpenID
// Provider, a double click) each finish: with one cookie for all, each
// sign-in overwrote the flow of the one before, whose callback was refused.
//
// The cookies have maxPendingFlows names, idplug_flow_0 to idplug_flow_7: a
// flow's slot is derived from its state (flowSlot), so that its callback reads
// that one cookie and opens no other flow. A fixed set of names bounds what a
// browser keeps however many sign-ins a page makes it start, at once included:
// requests in flight together each carry the cookies from before them, so a
// count kept by the sign-ins themselves would not. Their bytes are bounded
// too (maxFlowCookieBytes).
//
// A sign-in takes, at random, a slot that none of the cookies its request
// carries holds; with all of them taken, the oldest flow's (a browser sends
// the cookies of one path oldest first, RFC 6265 5.4), whose callback then
// says to start again. Two sign-ins whose requests are in flight together may
// take the same slot: the cookie the browser gets last wins it, and the other
// sign-in's callback is refused, as every earlier one was with one cookie.

// maxPendingFlows is how many sign-ins a browser can have under way at once.
const maxPendingFlows = 8

// maxFlowCookieBytes bounds the flow cookies a browser holds together, names
// and values: what the one flow cookie of earlier releases could reach. Eight
// flows of a long returnTo or a connector's large session would otherwise
// make a Cookie header of some 35 KB, sent with every request to the origin
// (over https the cookies have Path=/), which common front ends refuse
// (nginx's 8 KB a header line, Apache's 8,190 bytes, Node's 16 KB): a page
// that made a browser start eight such sign-ins would lock it out of the
// whole host until they expired. Sign-ins of a usual size (some 500 bytes)
// still fit eight at once.
const maxFlowCookieBytes = maxCookieLen

const flowCookieBase = "idplug_flow_"

// flowSlot is the slot of the flow whose state is state; any string, a
// callback's made-up state too, names one of maxPendingFlows.
func flowSlot(state string) int {
	sum := sha256.Sum256([]byte(state))
	return int(sum[0]) % maxPendingFlows
}

// newStateIn returns a new state whose flow goes in slot: states are drawn
// until one does, maxPendingFlows draws on average.
func newStateIn(slot int) string {
	for {
		if state := newState(); flowSlot(state) == slot {
			return state
		}
	}
}

// flowSlotOf is the slot a flow cookie's name gives; false for any other name.
func (c cookiePolicy) flowSlotOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, c.name(flowCookieBase))
	if !ok || len(rest) != 1 || rest[0] < '0' || rest[0] >= '0'+maxPendingFlows {
		return 0, false
	}
	return int(rest[0] - '0'), true
}

// heldFlow is a flow cookie a request carries: its slot, and its size (name
// and value).
type heldFlow struct{ slot, bytes int }

// pendingFlows lists the flow cookies r carries, oldest first (a browser
// sends the cookies of one path so, RFC 6265 5.4).
func (c cookiePolicy) pendingFlows(r *http.Request) []heldFlow {
	var flows []heldFlow
	var seen [maxPendingFlows]bool
	for _, ck := range r.Cookies() {
		if slot, ok := c.flowSlotOf(ck.Name); ok && !seen[slot] {
			seen[slot] = true
			flows = append(flows, heldFlow{slot, len(ck.Name) + len(ck.Value)})
		}
	}
	return flows
}

// pickFlowSlot chooses the slot of a new sign-in in a browser holding
// pending: a free one, or else the oldest flow's (taken says so).
func pickFlowSlot(pending []heldFlow) (slot int, taken bool) {
	if len(pending) == maxPendingFlows {
		return pending[0].slot, true
	}
	var held [maxPendingFlows]bool
	for _, f := range pending {
		held[f.slot] = true
	}
	free := make([]int, 0, maxPendingFlows)
	for s := range maxPendingFlows {
		if !held[s] {
			free = append(free, s)
		}
	}
	return free[rand.IntN(len(free))], false
}

// flowsOverBudget returns the slots of the oldest of pending to clear so
// that, with a new flow cookie of newBytes in slot, the browser's flow cookies
// stay within maxFlowCookieBytes. The cookie of slot itself is replaced, so
// it is not counted.
func flowsOverBudget(pending []heldFlow, slot, newBytes int) []int {
	total := newBytes
	for _, f := range pending {
		if f.slot != slot {
			total += f.bytes
		}
	}
	var evict []int
	for _, f := range pending {
		if total <= maxFlowCookieBytes {
			break
		}
		if f.slot != slot {
			evict = append(evict, f.slot)
			total -= f.bytes
		}
	}
	return evict
}

// openFlowCookie opens the flow that a callback's state names: the cookie of
// its slot, or else the single flow cookie of earlier releases. It returns
// the cookie that clears the one it opened. A callback whose flow the browser
// does not hold is a state mismatch when the browser holds others, as it was
// with one cookie, and a sign-in not started here when it holds none.
func (s *Server) openFlowCookie(r *http.Request, id, state string) (flow, *http.Cookie, error) {
	var f flow
	if state == "" {
		// No flow's: it would name a slot all the same, and whichever flow
		// held it answered (another connector's said session_invalid).
		return f, nil, errNotThisBrowsersFlow()
	}
	slot := flowSlot(state)
	c, clearing := cookieOrNil(r, s.cookies.flowName(slot)), s.cookies.clearFlow(slot)
	if c == nil {
		c, clearing = cookieOrNil(r, s.cookies.legacyFlowName()), s.cookies.clearLegacyFlow(id)
	}
	switch {
	case c == nil && len(s.cookies.pendingFlows(r)) > 0:
		return f, nil, errNotThisBrowsersFlow()
	case c == nil:
		return f, nil, &sdk.Error{Code: CodeSessionInvalid,
			Message: "this sign-in was not started in this browser, or it took too long; start again"}
	}
	err := s.openJSON(browserFlowPurpose(id), c.Value, "the sign-in", &f)
	return f, clearing, err
}

func cookieOrNil(r *http.Request, name string) *http.Cookie {
	c, err := r.Cookie(name)
	if err != nil {
		return nil
	}
	return c
}

// errNotThisBrowsersFlow refuses a callback of no sign-in under way in this
// browser: forged, another browser's, or one that gave way to newer ones.
func errNotThisBrowsersFlow() error {
	return sdk.Errorf(sdk.CodeInvalidRequestParameters,
		"state mismatch: this callback does not belong to a sign-in under way in this browser (it keeps the %d newest); start again",
		maxPendingFlows)
}
