package oauth2kit

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
)

// The checks below read the fields that connectors in Logto's shape share, by
// Logto's names, so the OAuth 2.0 and OpenID Connect connectors (and an author's
// own) report the same problem under the same field with the same words.

// MaxRequestTimeout bounds requestTimeout, so that a slow provider is reported
// before the host's 10 s call deadline cuts the call off.
const MaxRequestTimeout = 9 * time.Second

// CheckResponseFormat reads tokenEndpointResponseType: json, query-string, or unset
// (follow the answer's Content-Type).
func CheckResponseFormat(value string, p *sdk.ConfigError) ResponseFormat {
	switch value {
	case "":
		return FormatAuto
	case "json":
		return FormatJSON
	case "query-string":
		return FormatForm
	}
	p.Add("tokenEndpointResponseType", "must be \"json\" or \"query-string\" (or unset, to follow the Content-Type), got %q", value)
	return FormatAuto
}

// CheckCustomConfig reads customConfig: string values, sent as written, and never
// a protocol parameter or one of reserved (parameters the connector sets itself).
func CheckCustomConfig(custom map[string]json.RawMessage, p *sdk.ConfigError, reserved ...string) map[string]string {
	out := make(map[string]string, len(custom))
	for _, key := range slices.Sorted(maps.Keys(custom)) {
		field := "customConfig." + key
		var value string
		switch {
		case key == "":
			p.Add("customConfig", "has an empty key")
		case IsProtocolParam(key) || slices.Contains(reserved, key):
			p.Add(field, "%q is a protocol parameter that the connector sets itself; remove it", key)
		case json.Unmarshal(custom[key], &value) != nil:
			p.Add(field, "must be a string")
		default:
			out[key] = value
		}
	}
	return out
}

// CheckPKCE reads pkce: S256 (the default) or none.
func CheckPKCE(value string, p *sdk.ConfigError) bool {
	switch value {
	case "", PKCEMethodS256:
		return true
	case "none":
		return false
	}
	p.Add("pkce", "must be \"S256\" or \"none\", got %q", value)
	return true
}

// HTTPSettings are the fields that shape the connector's calls to the provider.
type HTTPSettings struct {
	RequestTimeout json.RawMessage // requestTimeout: a duration ("8s") or seconds; DefaultRequestTimeout when unset
	UserAgent      string          // userAgent; DefaultUserAgent when empty
	CACertificates string          // caCertificates: extra PEM roots
	// DefaultUserAgent names the connector and its version.
	DefaultUserAgent string
}

// Check returns the client the settings describe, adding a problem for each bad field.
func (s HTTPSettings) Check(p *sdk.ConfigError) *HTTPClient {
	timeout := DefaultRequestTimeout
	if len(s.RequestTimeout) > 0 {
		d, ok := ParseDuration(s.RequestTimeout)
		switch {
		case !ok:
			p.Add("requestTimeout", "must be a duration such as \"8s\" or a number of seconds")
		case d <= 0:
			p.Add("requestTimeout", "must be more than zero")
		case d > MaxRequestTimeout:
			p.Add("requestTimeout", "must be at most %s, so that a slow provider is reported before the host's 10s call deadline", MaxRequestTimeout)
		default:
			timeout = d
		}
	}
	userAgent := s.UserAgent
	if userAgent == "" {
		userAgent = s.DefaultUserAgent
	} else if strings.ContainsFunc(userAgent, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p.Add("userAgent", "must not contain control characters")
	}
	client, err := NewHTTPClient(HTTPOptions{Timeout: timeout, UserAgent: userAgent, CACertificates: s.CACertificates})
	if err != nil {
		p.Add("caCertificates", "%v", err)
	}
	return client
}

// ParseDuration reads a Go duration string ("8s", "1500ms") or a number of seconds
// (8, 2.5, or "8"); ok is false for anything else.
func ParseDuration(raw json.RawMessage) (d time.Duration, ok bool) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if d, err := time.ParseDuration(text); err == nil {
			return d, true
		}
		raw = json.RawMessage(text)
	}
	var secs float64
	if json.Unmarshal(raw, &secs) != nil {
		return 0, false
	}
	// Saturate before converting: a float beyond int64 nanoseconds has no defined conversion.
	secs = math.Max(-1e6, math.Min(secs, 1e6))
	return time.Duration(secs * float64(time.Second)), true
}
