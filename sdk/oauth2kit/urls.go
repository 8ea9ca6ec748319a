package oauth2kit

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CheckHTTPURL accepts an absolute http or https URL with a host and without a
// #fragment, as an endpoint setting must be. Its error reads well after a field
// name: "baseUrl: must be an absolute http or https URL, got ...".
func CheckHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if !strings.Contains(raw, "://") {
			if u, err := url.Parse("https://" + raw); err == nil && u.Host != "" {
				// "127.0.0.1:9501/token": a host and port, no scheme.
				return errors.New("must be an absolute http or https URL: it has no scheme (write https:// or http:// before the host)")
			}
		}
		return fmt.Errorf("is not a URL: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must be an absolute http or https URL, got %q", shown(u))
	case u.Host == "":
		return fmt.Errorf("has no host: %q", shown(u))
	case u.Fragment != "":
		return fmt.Errorf("must not have a #fragment: %q", shown(u))
	}
	return nil
}

// CheckSecureURL is CheckHTTPURL for an endpoint that is sent secrets, codes
// or tokens, or whose answers are trusted (keys, profiles): https, or http only
// on a loopback address, for a provider on this machine. Plain http elsewhere
// crosses the network in the clear, for anyone on the way to read or answer.
func CheckSecureURL(raw string) error {
	if err := CheckHTTPURL(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.Scheme == "https" || isLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("must be https (http only on a loopback address), got %q", shown(u))
}

// isLoopbackHost reports whether host (without a port) is this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// shown is u for an error message, which reaches logs and the reload's
// answer: without its password, and with its query and fragment as "...",
// since some providers take a key in the query.
func shown(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		c.RawQuery = "..."
	}
	if c.Fragment != "" {
		c.Fragment, c.RawFragment = "...", ""
	}
	return c.Redacted()
}
