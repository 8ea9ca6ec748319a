// Package pingcount counts the PINGs a gRPC peer sends on a raw HTTP/2
// connection, for the tests that hold both ends of a plugin's connection to
// sending none (wire.WindowSize): a test makes one call, then sends a PING of its
// own (Mine); the peer reads frames in order, so any PING it sends because of the
// call's data comes before it acknowledges Mine.
package pingcount

import (
	"bytes"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Mine is the test's own PING.
var Mine = [8]byte{'i', 'd', 'p', 'l', 'u', 'g', '!', '!'}

// Until reads fr's frames until the peer acknowledges Mine, and returns how many
// PINGs of its own the peer sent before that. It acknowledges the peer's SETTINGS
// and PINGs, and hands every DATA frame to onData (when not nil).
func Until(fr *http2.Framer, onData func(*http2.DataFrame) error) (int, error) {
	pings := 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				err = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			switch {
			case f.IsAck() && f.Data == Mine:
				return pings, nil
			case !f.IsAck():
				pings++
				err = fr.WritePing(true, f.Data)
			}
		case *http2.DataFrame:
			if onData != nil {
				err = onData(f)
			}
		}
		if err != nil {
			return 0, err
		}
	}
}

// Headers is one HPACK block of the name, value pairs given.
func Headers(pairs ...string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for i := 0; i+1 < len(pairs); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: pairs[i], Value: pairs[i+1]})
	}
	return b.Bytes()
}
