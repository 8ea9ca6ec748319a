package seal

import (
	"fmt"
	"time"
)

// MaxRecordLen bounds the payload of a record: a browser session's profile,
// raw data included, stays far below it.
const MaxRecordLen = 1 << 20

// SealRecord seals payload as bytes, for a record the host keeps in its store
// rather than hands out: no text encoding, and a larger limit than a token's.
// Bind the record to where it is kept by naming its key in purpose (for
// example "user-session-row:" + id), so that a sealed row copied under another
// key does not open.
func (s *Sealer) SealRecord(purpose string, payload []byte, ttl time.Duration) ([]byte, error) {
	if len(payload) > MaxRecordLen {
		return nil, fmt.Errorf("seal: record is %d bytes; the limit is %d", len(payload), MaxRecordLen)
	}
	return s.sealRaw(purpose, payload, ttl)
}

// OpenRecord returns the payload of a record sealed for purpose, failing as Open does.
func (s *Sealer) OpenRecord(purpose string, sealed []byte) ([]byte, error) {
	if len(sealed) > MaxRecordLen+minRawLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxRecordLen+minRawLen)
	}
	return s.openRaw(purpose, sealed)
}
