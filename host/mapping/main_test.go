package mapping

import (
	"os"
	"testing"
	"time"
)

// TestMain puts the mapping's one-second backstop out of the way for every
// test: what they check is what the limits answer, and on a loaded machine
// the clock had answered first (TestWholeAnswersAsOneByOne, TestNoCallOutrunsTheDeadline).
// TestTheDeadlineStopsAMapping sets a backstop of its own.
func TestMain(m *testing.M) {
	backstop.Store(int64(time.Minute))
	os.Exit(m.Run())
}
