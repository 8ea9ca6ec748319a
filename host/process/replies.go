package process

import (
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc"
)

// A reply is held in the host's memory while it arrives and is decoded. With
// MaxReplySize alone, a plugin answering each of its MaxInFlight calls with a
// reply of that size, and taking its time to finish them, made the host hold
// 2 GiB (512 × 4 MiB) for one plugin. The reply budget bounds that: a call in
// flight holds MaxReplySize of its process's budget, and a call that finds the
// budget spent takes a reply of at most SmallReplySize. One plugin's replies
// then hold at most DefaultReplyBudget + MaxInFlight × SmallReplySize (192 MiB
// with the defaults), whatever it does, and their headers and trailers
// MaxInFlight × 2 × maxHeaderList (64 MiB) besides. An honest plugin meets the smaller
// limit only with 16 calls in flight at once, and its answers (a URL, a profile,
// a token set) are rarely near 256 KiB even then.
const (
	// DefaultReplyBudget is the bytes of replies at full size a plugin's calls
	// in flight may hold at once: 16 calls.
	DefaultReplyBudget = 16 * MaxReplySize
	// SmallReplySize bounds a reply to a call made while the budget is spent.
	SmallReplySize = 256 << 10
)

// The limits as call options, made once: every call passes one.
var (
	fullReply  = grpc.MaxCallRecvMsgSize(MaxReplySize)
	smallReply = grpc.MaxCallRecvMsgSize(SmallReplySize)
)

// replyBudget is what is left of a process's budget, in bytes.
type replyBudget struct{ free atomic.Int64 }

func newReplyBudget(size int) *replyBudget {
	b := &replyBudget{}
	b.free.Store(int64(size))
	return b
}

// reserve gives a call its reply limit; when full is true the call holds
// MaxReplySize of the budget, which release gives back.
func (b *replyBudget) reserve() (limit grpc.CallOption, full bool) {
	if b.free.Add(-MaxReplySize) >= 0 {
		return fullReply, true
	}
	b.free.Add(MaxReplySize)
	return smallReply, false
}

func (b *replyBudget) release() { b.free.Add(MaxReplySize) }

// tooLarge says why a reply was refused, for the limit the call had.
func (p *Process) tooLarge(method string, full bool) string {
	if full {
		return fmt.Sprintf("plugin %s sent a reply to %s larger than the limit of %d bytes", p.name, method, MaxReplySize)
	}
	return fmt.Sprintf("plugin %s sent a reply to %s larger than the limit of %d bytes, a call's limit while its calls in flight "+
		"hold the %d bytes its replies may take at full size", p.name, method, SmallReplySize, p.opts.ReplyBudget)
}
