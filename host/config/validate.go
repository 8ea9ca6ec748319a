package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// listenKind says what a listen address exposes, which decides whether API
// keys are required.
type listenKind int

const (
	listenInvalid listenKind = iota
	listenLoopback
	// listenLoopbackPort0 is loopback on a port picked at start, which a
	// default public_url cannot name.
	listenLoopbackPort0
	listenPublic
)

// checkListen validates a host:port address.
func checkListen(s string) (listenKind, string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return listenInvalid, fmt.Sprintf("%q must be host:port, like 127.0.0.1:8080", s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	switch {
	case err != nil:
		return listenInvalid, fmt.Sprintf("%q must be host:port with a port number from 0 to 65535", s)
	case !isLoopback(host):
		return listenPublic, ""
	case n == 0:
		return listenLoopbackPort0, ""
	}
	return listenLoopback, ""
}

// isLoopback reports whether host only accepts connections from this machine:
// localhost, 127.0.0.0/8 or ::1. An empty host means every interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// checkPublicURL validates public_url and returns it without trailing slashes.
func checkPublicURL(s string) (string, string) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", fmt.Sprintf("%q is not a valid URL", shownURL(s))
	case u.User != nil:
		return "", "must not contain a user name or password"
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return "", fmt.Sprintf("%q must be an absolute http or https URL, like https://idplug.example.com", shownURL(s))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsRune(s, '#'):
		return "", fmt.Sprintf("%q must not have a query or fragment", shownURL(s))
	case strings.Contains("/"+u.Path+"/", "/../") || strings.Contains("/"+u.Path+"/", "/./") || strings.Contains(u.Path, "//"):
		// Browsers resolve the dots: the routes would never be asked for.
		return "", fmt.Sprintf("%q must have a clean path, without . or .. segments or //", shownURL(s))
	case strings.ContainsAny(s, " \t"):
		return "", fmt.Sprintf("%q has a space in it: write it as %%20, or choose another path", shownURL(s))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Sprintf("%q has port %s, not one from 1 to 65535", shownURL(s), p)
		}
	}
	return strings.TrimRight(s, "/"), ""
}

// checkAssetURL validates a logo address: a web URL or an inline data URL.
func checkAssetURL(s string) string {
	u, err := url.Parse(s)
	if err == nil && ((u.Scheme == "http" || u.Scheme == "https") && u.Host != "" || u.Scheme == "data") {
		return ""
	}
	s = shownURL(s)
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return fmt.Sprintf("%q must be an http, https or data URL", s)
}

// checkAPIKey refuses keys that a client could not send as they are (an
// empty key, or one with spaces or control characters, often a stray
// newline from a secrets file) and keys short enough to guess.
func checkAPIKey(k string) string {
	if k == "" {
		return "is empty"
	}
	if strings.IndexFunc(k, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "must not contain spaces or control characters"
	}
	// Say how long, never what it is.
	if len(k) < MinAPIKeyLen {
		return fmt.Sprintf("is %d bytes, needs at least %d (openssl rand -base64 32 makes one)", len(k), MinAPIKeyLen)
	}
	return ""
}

// shownURL is s as a message may quote it: a user name or password it carries
// (a mistake, but a secret) is replaced, also in a URL that does not parse.
func shownURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		if u.User == nil {
			return s
		}
		u.User = url.User("xxxxx")
		return u.String()
	}
	// One that does not parse may hold a password with "/", "?" or "#" in it:
	// everything before the last "@" may be one.
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		return scheme + "://xxxxx@" + rest[i+1:]
	}
	return s
}
