package connectortest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

const holdRedirect = "https://app.example/callback"

// holdClient is a client of p, as a connector built on oauth2kit is.
type holdClient struct {
	http     *oauth2kit.HTTPClient
	token    *oauth2kit.TokenEndpoint
	userInfo *oauth2kit.UserInfoEndpoint
}

func newHoldClient(t *testing.T, p *Provider) *holdClient {
	t.Helper()
	h, err := oauth2kit.NewHTTPClient(oauth2kit.HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &holdClient{
		http: h,
		token: &oauth2kit.TokenEndpoint{URL: p.TokenEndpoint(), HTTP: h,
			Auth: oauth2kit.ClientAuth{Method: ClientSecretPost, ClientID: p.ClientID(), ClientSecret: p.ClientSecret()}},
		userInfo: &oauth2kit.UserInfoEndpoint{URL: p.UserInfoEndpoint(), HTTP: h},
	}
}

// exchange redeems code, which must work.
func (c *holdClient) exchange(t *testing.T, code string) string {
	t.Helper()
	tok, err := c.token.Exchange(t.Context(), code, holdRedirect, "")
	if err != nil {
		t.Fatalf("exchanging a code: %v", err)
	}
	return tok.AccessToken
}

// inBackground runs f in a goroutine and hands its error over when it returns.
func inBackground(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// waitHeld waits until h holds a request, the one whose end done reports.
func waitHeld(t *testing.T, what string, h *hold, done <-chan error) {
	t.Helper()
	select {
	case <-h.held:
	case err := <-done:
		t.Fatalf("%s was answered (%v); want it held", what, err)
	}
}

// TestHoldsPickTheirSignInsRequests: a hold keeps its own sign-in's request
// unanswered and lets every other through, until it is released; then the
// request ends without an answer.
func TestHoldsPickTheirSignInsRequests(t *testing.T) {
	p := NewProvider(t, WithIDTokens())
	c := newHoldClient(t, p)
	ctx := t.Context()
	codeA, codeB, codeC := p.IssueCode(holdRedirect, ""), p.IssueCode(holdRedirect, ""), p.IssueCode(holdRedirect, "")
	exchange, tokenUse, afterExchange := p.holdExchange(codeA), p.holdTokenUse(codeB), p.holdAfterExchange(codeC)
	discovery := func() error { _, err := c.http.GetJSON(ctx, p.DiscoveryURL(), "discovery document"); return err }

	a := inBackground(func() error { _, err := c.token.Exchange(ctx, codeA, holdRedirect, ""); return err })
	waitHeld(t, "the exchange", exchange, a)
	if got := exchange.first.Form.Get("code"); got != codeA {
		t.Errorf("the exchange hold holds the exchange of %q; want %q", got, codeA)
	}
	tokenB := c.exchange(t, codeB)
	if err := discovery(); err != nil {
		t.Errorf("a request without a token before the exchange the hold waits for: %v", err)
	}
	tokenC := c.exchange(t, codeC)
	if _, err := c.userInfo.Fetch(ctx, tokenC); err != nil {
		t.Errorf("userinfo with a token the holds do not pick: %v", err)
	}
	b := inBackground(func() error { _, err := c.userInfo.Fetch(ctx, tokenB); return err })
	waitHeld(t, "the userinfo request", tokenUse, b)
	if got := tokenUse.first.Endpoint; got != UserInfoEndpoint {
		t.Errorf("the hold on the token's use holds a request to %q; want the userinfo endpoint", got)
	}
	d := inBackground(discovery)
	waitHeld(t, "the discovery request", afterExchange, d)
	if got := afterExchange.first.Endpoint; got != DiscoveryEndpoint {
		t.Errorf("the hold after the exchange holds a request to %q; want the discovery document", got)
	}

	for _, h := range []*hold{exchange, tokenUse, afterExchange} {
		p.releaseHold(h)
	}
	if err := <-a; sdk.AsError(err).Code != sdk.CodeProviderUnavailable {
		t.Errorf("the held exchange, released: %v; want provider_unavailable, the connection dropped", err)
	}
	// net/http sends a GET again when its kept-alive connection closes
	// without an answer, and the released holds let that through: both end.
	<-b
	<-d
	if _, err := c.userInfo.Fetch(ctx, tokenB); err != nil {
		t.Errorf("after its hold was released, a request: %v", err)
	}
}

// TestFloodCountsWhatTheClientTook: oauth2kit reads 1 MiB of an answer that
// does not end, and closes the connection; the provider counts about that
// much written, far below signin/huge-answer's bound, each time the client
// asks. Once the flood ends, the endpoint answers again.
func TestFloodCountsWhatTheClientTook(t *testing.T) {
	p := NewProvider(t)
	c := newHoldClient(t, p)
	token := c.exchange(t, p.IssueCode(holdRedirect, ""))
	f := p.floodAnswers(UserInfoEndpoint, "application/json", `{"padding":"`, floodLength)
	for range 2 {
		if _, err := c.userInfo.Fetch(t.Context(), token); sdk.AsError(err).Code != sdk.CodeInvalidResponse {
			t.Errorf("an endless answer: %v; want invalid_response", err)
		}
	}
	written := p.endFlood(f)
	if len(written) != 2 {
		t.Fatalf("the flood counted %d answers; want 2", len(written))
	}
	for _, n := range written {
		if n <= oauth2kit.DefaultMaxResponseBytes || n > maxAnswerRead {
			t.Errorf("the provider wrote %d bytes; want above oauth2kit's %d, and at most %d", n, oauth2kit.DefaultMaxResponseBytes, maxAnswerRead)
		}
	}
	if _, err := c.userInfo.Fetch(t.Context(), token); err != nil {
		t.Errorf("once the flood ended, userinfo: %v", err)
	}
	if written := p.endFlood(p.floodAnswers(UserInfoEndpoint, "application/json", `{"padding":"`, floodLength)); len(written) != 0 {
		t.Errorf("a flood no request reached counted %v", written)
	}
}

// TestAStoppedFloodEndsThoughItsClientNeitherReadsNorCloses: the provider's
// writes block once the sockets are full; ending the flood closes the
// connection, which ends them.
func TestAStoppedFloodEndsThoughItsClientNeitherReadsNorCloses(t *testing.T) {
	p := NewProvider(t)
	f := p.floodAnswers(UserInfoEndpoint, "application/json", `{"padding":"`, floodLength)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, p.UserInfoEndpoint(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan []int64, 1)
	go func() { done <- p.endFlood(f) }()
	select {
	case written := <-done:
		if len(written) != 1 || written[0] >= floodLength {
			t.Errorf("the provider wrote %v bytes to a client that read none; want one answer, stopped on the way", written)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the flood did not end 10 s after it was stopped")
	}
}

// TestAFloodDropsTheConnectionAtItsLength: a client without a cap reads all
// the flood has, and gets no end of the body: no answer, however patient.
func TestAFloodDropsTheConnectionAtItsLength(t *testing.T) {
	p := NewProvider(t)
	h, err := oauth2kit.NewHTTPClient(oauth2kit.HTTPOptions{MaxResponseBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	userInfo := &oauth2kit.UserInfoEndpoint{URL: p.UserInfoEndpoint(), HTTP: h}
	f := p.floodAnswers(UserInfoEndpoint, "application/json", `{"padding":"`, floodLength)
	if raw, err := userInfo.Fetch(t.Context(), "any"); err == nil {
		t.Errorf("a client without a cap got an answer of %d bytes; want the connection dropped", len(raw))
	}
	if written := p.endFlood(f); len(written) != 1 || written[0] != floodLength {
		t.Errorf("the provider wrote %v bytes; want one answer of %d", written, floodLength)
	}
}
