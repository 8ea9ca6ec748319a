package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Input is bounded so that what a flow seals always fits: a caller's oversized
// state is its own 400, refused before any plugin call, and never a failure to
// seal afterwards. Lengths are counted as JSON-encoded, which is how they are sealed.
const (
	// maxStateLen bounds a caller's state: RFC 6749's VSCHARs, 512 of them.
	maxStateLen = 512
	// maxRedirectURILen bounds redirectUri.
	maxRedirectURILen = 2048
	// maxReturnToLen bounds a browser sign-in's returnTo.
	maxReturnToLen = 1024
	// maxCookieLen bounds a cookie's name and value together: browsers drop a
	// cookie over 4096 bytes, its attributes counted.
	maxCookieLen = 3900
	// MaxHeaderBytes is how much of a request's headers idplug serve reads:
	// a browser's maxPendingFlows flow cookies and its session cookie, each at
	// its largest, take 35 KB of it, leaving the rest to the app's cookies
	// and other headers.
	MaxHeaderBytes = 64 << 10
)

// jsonLen is the length of s once JSON-encoded (without HTML escaping, as sealJSON
// encodes).
func jsonLen(s string) int {
	b, _ := marshal(s)
	return len(b)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// checkState accepts a caller's state: at most maxStateLen printable ASCII
// characters (RFC 6749 appendix A: VSCHAR).
func checkState(state string) error {
	if len(state) > maxStateLen {
		return badRequest("state is %d bytes; at most %d are accepted", len(state), maxStateLen)
	}
	for i := 0; i < len(state); i++ {
		if c := state[i]; c < 0x20 || c > 0x7e {
			return badRequest("state must be printable ASCII (RFC 6749 VSCHAR); byte %d is not", i)
		}
	}
	return nil
}

func checkLength(field, value string, limit int) error {
	if n := jsonLen(value); n > limit {
		return badRequest("%s is %d bytes; at most %d are accepted", field, n, limit)
	}
	return nil
}

// sizeError is a payload too large to seal, or a token too large for a cookie.
type sizeError struct{ size, limit int }

func (e *sizeError) Error() string {
	return fmt.Sprintf("%d bytes, the limit is %d", e.size, e.limit)
}

// blamePlugin turns a sizeError into an invalid_response naming the connector
// whose values made the payload too large: the caller's own input was bounded
// before the call.
func (s *Server) blamePlugin(err error, id, what string) error {
	var se *sizeError
	if errors.As(err, &se) {
		return s.pluginFault(id, "%s too large to keep (%s)", what, se)
	}
	return err
}
