package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cookiePolicy names and scopes idplug's browser cookies: the sign-in flows
// (from /sign-in to /callback, one cookie each, flowcookies.go) and the
// signed-in session.
//
// Over https they carry the __Host- prefix: the browser then accepts them only
// Secure, from this host, for Path=/ and without Domain, so a sibling subdomain
// cannot plant a flow or a session of its own (login CSRF, session fixation).
// That holds under a public_url path too: a __Secure- cookie scoped to the path
// could be set by any sibling with Domain=, and the browser sends the older,
// planted one first. Such a cookie must have Path=/, so it reaches the other
// paths of the origin, whose pages could script idplug's anyway; a flow cookie
// opens only for the connector it was sealed for. Over plain http (loopback)
// the cookies carry the public path instead (cookiePathOf), the flow cookies
// as the session's: a sign-in must see the flows under way in the browser to
// keep their number bounded, and a flow cookie scoped to its callback (as
// releases before per-flow cookies did) never reached /sign-in.
type cookiePolicy struct {
	secure   bool
	hostOnly bool
	// prefix is the public path as a cookie's Path names it, "" at the root.
	prefix string
	// cut says prefix is only the start of the public path: the flow cookie
	// of earlier releases could not then name its callback's path either.
	cut bool
}

func newCookiePolicy(scheme, prefix string) cookiePolicy {
	secure := scheme == "https"
	plain := cookiePathOf(prefix)
	return cookiePolicy{secure: secure, hostOnly: secure, prefix: plain, cut: plain != prefix}
}

// cookiePathOf is the leading segments of the public path that every client
// spells alike: made of RFC 3986's unreserved characters, which nothing
// escapes. A browser matches a cookie's Path against the path as the request
// spelled it, and the rest reaches idplug spelled more than one way (the
// page's links and the callback URL escape "(", an "é" comes as %c3%a9 or
// %C3%A9), while net/http drops a non-ASCII byte from a Path outright: the
// flow cookie missed the callback, and no sign-in under such a public_url
// finished over http.
func cookiePathOf(prefix string) string {
	plain := ""
	for _, seg := range strings.Split(prefix, "/")[1:] {
		if seg == "" || strings.IndexFunc(seg, reservedInPath) >= 0 {
			break
		}
		plain += "/" + seg
	}
	return plain
}

func reservedInPath(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~", r))
}

func (c cookiePolicy) name(base string) string {
	if c.hostOnly {
		return "__Host-" + base
	}
	return base
}

// flowName names the flow cookie of slot (flowcookies.go).
func (c cookiePolicy) flowName(slot int) string {
	return c.name(flowCookieBase + strconv.Itoa(slot))
}

func (c cookiePolicy) sessionName() string { return c.name("idplug_session") }

// browserName names the mark that ties an app's sign-in request, through the
// OpenID Provider, to the browser that made it (providerBrowser.Bind).
func (c cookiePolicy) browserName() string { return c.name("idplug_browser") }

// The mark goes with cross-site requests too over https (SameSite=None): an
// app may send its authorization request as a form POST, which a Lax cookie
// stays out of, and /authorize, seeing no mark, would give the browser a new
// one in place of the mark its requests in other tabs are tied to (any page
// could do that with a form). It grants nothing by itself: a request goes on
// only in the browser that carries it, at pages refused cross-site where
// they act on a POST. Over plain http (loopback) browsers refuse None
// without Secure, so it is Lax there.
func (c cookiePolicy) browser(value string, ttl time.Duration) *http.Cookie {
	k := c.cookie(c.browserName(), value, c.path(), int(ttl.Seconds()))
	if c.secure {
		k.SameSite = http.SameSiteNoneMode
	}
	return k
}

// path is the Path of every cookie: "/" for a __Host- cookie, else the public
// path as every client spells it.
func (c cookiePolicy) path() string {
	if c.hostOnly {
		return "/"
	}
	return c.prefix + "/"
}

func (c cookiePolicy) flow(slot int, value string, ttl time.Duration) *http.Cookie {
	return c.cookie(c.flowName(slot), value, c.path(), int(ttl.Seconds()))
}

func (c cookiePolicy) clearFlow(slot int) *http.Cookie {
	return c.cookie(c.flowName(slot), "", c.path(), -1)
}

// The single flow cookie of releases before per-flow cookies, still read at
// a callback so that a sign-in under way during an upgrade finishes. Over
// plain http it was scoped to its connector's callback; id must be a checked
// connector id.
func (c cookiePolicy) legacyFlowName() string { return c.name("idplug_flow") }

func (c cookiePolicy) clearLegacyFlow(id string) *http.Cookie {
	path := c.prefix + "/callback/" + id
	if c.hostOnly || c.cut {
		path = c.path()
	}
	return c.cookie(c.legacyFlowName(), "", path, -1)
}

func (c cookiePolicy) session(value string, ttl time.Duration) *http.Cookie {
	return c.cookie(c.sessionName(), value, c.path(), int(ttl.Seconds()))
}

func (c cookiePolicy) clearSession() *http.Cookie {
	return c.cookie(c.sessionName(), "", c.path(), -1)
}

// Lax: the provider's redirect back is a top-level GET, which Lax cookies survive.
func (c cookiePolicy) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	}
}
