package connectortest

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// What the provider holds back: a request it does not answer before a check
// releases it (signin/timeout), and an answer that goes on far past any sane
// one (signin/huge-answer).

// hold keeps the requests it picks unanswered until it is released. Unlike
// DelayNext, which delays the next request to an endpoint whoever sends it, a
// hold picks the requests of one sign-in, so that several can be held at once.
type hold struct {
	// picks says whether the provider holds r; it runs with p.mu held.
	picks func(r *Request) bool
	// held is closed when a first request is held; first is that request.
	held  chan struct{}
	first Request
	// release is closed when the check is done with the hold.
	release chan struct{}
}

// holdRequests holds every request picks picks, until releaseHold.
func (p *Provider) holdRequests(picks func(r *Request) bool) *hold {
	h := &hold{picks: picks, held: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holds = append(p.holds, h)
	return h
}

// holdExchange holds the token requests that send code.
func (p *Provider) holdExchange(code string) *hold {
	return p.holdRequests(func(r *Request) bool {
		return r.Endpoint == TokenEndpoint && r.Form.Get("code") == code
	})
}

// holdTokenUse holds the requests that carry an access token issued for code:
// the userinfo request, and the API requests made with the token.
func (p *Provider) holdTokenUse(code string) *hold {
	return p.holdRequests(func(r *Request) bool {
		g := p.codes[code]
		return g != nil && p.access[tokenOf(r)] == g
	})
}

// holdAfterExchange holds, once code was exchanged, the requests that carry no
// access token and are not for the token endpoint: a discovery document or a
// key set fetched after the exchange. Such a request names no sign-in, so it
// is held whichever sent it: signin/timeout starts this sign-in last, once the
// others are held.
func (p *Provider) holdAfterExchange(code string) *hold {
	return p.holdRequests(func(r *Request) bool {
		g := p.codes[code]
		return g != nil && len(g.tokens) > 0 && tokenOf(r) == "" &&
			r.Endpoint != TokenEndpoint && r.Endpoint != AuthorizationEndpoint
	})
}

// releaseHold ends h: it holds no more requests, and those it holds end without
// an answer.
func (p *Provider) releaseHold(h *hold) {
	p.mu.Lock()
	p.holds = slices.DeleteFunc(p.holds, func(x *hold) bool { return x == h })
	p.mu.Unlock()
	close(h.release)
}

// holding returns the hold that picks r, if one does, noting r as its first
// request; the lock is held.
func (p *Provider) holding(r *Request) *hold {
	for _, h := range p.holds {
		if !h.picks(r) {
			continue
		}
		select {
		case <-h.held:
		default:
			h.first = *r
			close(h.held)
		}
		return h
	}
	return nil
}

// waitOut keeps a request h holds until h is released, the client gives up or
// the provider closes, and then drops its connection: no answer at all, as from
// a provider that never answered.
func (p *Provider) waitOut(r *http.Request, h *hold) {
	select {
	case <-h.release:
	case <-r.Context().Done():
	case <-p.closed:
	}
	panic(http.ErrAbortHandler)
}

// tokenOf is the access token r carries: in its Authorization header, or as
// access_token in its query or form (which secrets/requests refuses).
func tokenOf(r *Request) string {
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "bearer") {
		return token
	}
	if v := r.Query.Get("access_token"); v != "" {
		return v
	}
	return r.Form.Get("access_token")
}

// flood answers every request to an endpoint, until it ends, with HTTP 200 and
// a body that goes on far past any sane answer: its prefix, then filler,
// written as fast as the client takes them and chunked, with no Content-Length,
// so that only a cap on what it reads stops a client; at size bytes, the
// connection drops, the body unfinished. Every request, as a real provider's
// broken answer would be the same each time a client asks again. It counts
// what it wrote to each before the client stopped taking it.
type flood struct {
	endpoint    Endpoint
	contentType string
	prefix      string
	size        int64
	// stop is closed when the check is done with it; serving counts the
	// requests it is answering.
	stop    chan struct{}
	serving sync.WaitGroup
	// written is what it wrote to each request, as they ended; under p.mu.
	written []int64
}

// floodFiller is what a flood is made of after its prefix: JSON string
// characters, never a closing quote, so that a client that reads it all still
// gets no answer, and the kit never has a profile of many MiB to search.
var floodFiller = bytes.Repeat([]byte("a"), 32<<10)

// floodSendBuffer is the socket send buffer of a flood's connection. The kernel
// grows one to some MiB (4 on Linux) while the client reads fast, and what it
// holds counts as written though the client never read it: kept small, the
// count stays near what the client took.
const floodSendBuffer = 64 << 10

// floodAnswers makes every request to endpoint, until endFlood, get a flood of
// at most size bytes.
func (p *Provider) floodAnswers(endpoint Endpoint, contentType, prefix string, size int64) *flood {
	f := &flood{endpoint: endpoint, contentType: contentType, prefix: prefix, size: size, stop: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.floods[endpoint] = f
	return f
}

// flooding returns the flood that answers a request to endpoint, if one does,
// counting the request in; the lock is held.
func (p *Provider) flooding(endpoint Endpoint) *flood {
	f := p.floods[endpoint]
	if f != nil {
		f.serving.Add(1)
	}
	return f
}

// endFlood ends f, once the requests it is answering end too, and returns how
// many bytes it wrote to each request it answered.
func (p *Provider) endFlood(f *flood) []int64 {
	p.mu.Lock()
	if p.floods[f.endpoint] == f {
		delete(p.floods, f.endpoint)
	}
	p.mu.Unlock()
	close(f.stop)
	f.serving.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), f.written...)
}

// connKey keys the connection of a request in its context.
type connKey struct{}

// serveFlood writes f until the client closes the connection, the check stops
// it or the provider closes, or drops the connection at f.size.
func (p *Provider) serveFlood(w http.ResponseWriter, r *http.Request, f *flood) {
	defer f.serving.Done()
	var written int64
	defer func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		f.written = append(f.written, written)
	}()
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	if b, ok := conn.(interface{ SetWriteBuffer(int) error }); ok {
		_ = b.SetWriteBuffer(floodSendBuffer)
	}
	// A write blocks while the client neither reads nor closes the connection:
	// closing it is what ends that write.
	over := make(chan struct{})
	defer close(over)
	go func() {
		select {
		case <-f.stop:
		case <-p.closed:
		case <-over:
			return
		}
		if conn != nil {
			_ = conn.Close()
		}
	}()
	w.Header().Set("Content-Type", f.contentType)
	w.WriteHeader(http.StatusOK)
	n, err := io.WriteString(w, f.prefix)
	written += int64(n)
	for err == nil && written < f.size {
		n, err = w.Write(floodFiller[:min(int64(len(floodFiller)), f.size-written)])
		written += int64(n)
	}
	if err == nil {
		panic(http.ErrAbortHandler) // no last chunk: the body never ends
	}
}
