package server

import (
	"net/http"
	"strings"
	"time"
)

// cookiePolicy names and scopes idplug's two browser cookies: the sign-in flow
// (from /sign-in to /callback) and the signed-in session.
//
// Over https both carry the __Host- prefix: the browser then accepts them only
// Secure, from this host, for Path=/ and without Domain, so a sibling subdomain
// cannot plant a flow or a session of its own (login CSRF, session fixation).
// That holds under a public_url path too: a __Secure- cookie scoped to the path
// could be set by any sibling with Domain=, and the browser sends the older,
// planted one first. Such a cookie must have Path=/, so it reaches the other
// paths of the origin, whose pages could script idplug's anyway; the flow
// cookie is then not scoped to its callback path, and opens only for the
// connector it was sealed for. Over plain http (loopback) the cookies carry
// the path instead (cookiePathOf).
type cookiePolicy struct {
	secure   bool
	hostOnly bool
	// prefix is the public path as a cookie's Path names it, "" at the root.
	prefix string
	// cut says prefix is only the start of the public path: the flow cookie
	// cannot then name its callback's path either.
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

func (c cookiePolicy) flowName() string    { return c.name("idplug_flow") }
func (c cookiePolicy) sessionName() string { return c.name("idplug_session") }

// flowPath scopes the flow cookie to the callback of its connector; id must be a
// checked connector id.
func (c cookiePolicy) flowPath(id string) string {
	switch {
	case c.hostOnly:
		return "/"
	case c.cut:
		return c.prefix + "/"
	}
	return c.prefix + "/callback/" + id
}

func (c cookiePolicy) sessionPath() string {
	if c.hostOnly {
		return "/"
	}
	return c.prefix + "/"
}

func (c cookiePolicy) flow(id, value string, ttl time.Duration) *http.Cookie {
	return c.cookie(c.flowName(), value, c.flowPath(id), int(ttl.Seconds()))
}

func (c cookiePolicy) clearFlow(id string) *http.Cookie {
	return c.cookie(c.flowName(), "", c.flowPath(id), -1)
}

func (c cookiePolicy) session(value string, ttl time.Duration) *http.Cookie {
	return c.cookie(c.sessionName(), value, c.sessionPath(), int(ttl.Seconds()))
}

func (c cookiePolicy) clearSession() *http.Cookie {
	return c.cookie(c.sessionName(), "", c.sessionPath(), -1)
}

// Lax: the provider's redirect back is a top-level GET, which Lax cookies survive.
func (c cookiePolicy) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	}
}
