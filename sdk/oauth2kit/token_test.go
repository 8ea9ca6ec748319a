package oauth2kit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/internal/logctx"
)

// tokenStub answers every token request with status, contentType and body, and
// keeps what it received.
type tokenStub struct {
	mu       sync.Mutex
	forms    []url.Values
	headers  []http.Header
	requests atomic.Int32
}

func (s *tokenStub) handler(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.forms = append(s.forms, r.PostForm)
		s.headers = append(s.headers, r.Header.Clone())
		s.mu.Unlock()
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func (s *tokenStub) last(t *testing.T) (url.Values, http.Header) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.forms) == 0 {
		t.Fatal("the token endpoint got no request")
	}
	return s.forms[len(s.forms)-1], s.headers[len(s.headers)-1]
}

func newEndpoint(t *testing.T, srvURL string, opts HTTPOptions) *TokenEndpoint {
	t.Helper()
	return &TokenEndpoint{
		URL:  srvURL,
		Auth: ClientAuth{Method: ClientSecretPost, ClientID: "id", ClientSecret: "sec"},
		HTTP: newHTTPClient(t, opts),
		now:  func() time.Time { return testNow },
	}
}

func TestExchangeSendsExactlyTheFlowsParameters(t *testing.T) {
	stub := &tokenStub{}
	srv := newServer(t, stub.handler(200, jsonType, `{"access_token":"at","expires_in":60}`))
	e := newEndpoint(t, srv.URL, HTTPOptions{UserAgent: "idplug-oauth2/test"})
	e.Extra = map[string]string{"resource": "https://api.example.com", "redirect_uri": "https://evil.example", "code": "evil"}
	tok, err := e.Exchange(context.Background(), "the-code", "https://app.example.com/cb", "the-verifier")
	if err != nil {
		t.Fatal(err)
	}
	form, header := stub.last(t)
	want := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {"the-code"},
		"redirect_uri":  {"https://app.example.com/cb"},
		"code_verifier": {"the-verifier"},
		"client_id":     {"id"},
		"client_secret": {"sec"},
		"resource":      {"https://api.example.com"},
	}
	if !reflect.DeepEqual(form, want) {
		t.Errorf("body = %v\nwant   %v", form, want)
	}
	if got := header.Get("User-Agent"); got != "idplug-oauth2/test" {
		t.Errorf("User-Agent = %q", got)
	}
	if got := header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", got)
	}
	if !tok.Expiry.Equal(testNow.Add(time.Minute)) {
		t.Errorf("expiry = %v, want a minute after the request was sent", tok.Expiry)
	}
}

func TestExchangeWithoutPKCESendsNoVerifier(t *testing.T) {
	stub := &tokenStub{}
	srv := newServer(t, stub.handler(200, jsonType, `{"access_token":"at"}`))
	if _, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(context.Background(), "c", "https://app/cb", ""); err != nil {
		t.Fatal(err)
	}
	if form, _ := stub.last(t); form.Has("code_verifier") {
		t.Errorf("code_verifier sent without PKCE: %v", form)
	}
}

func TestRefresh(t *testing.T) {
	t.Run("keeps the old refresh token when none comes back", func(t *testing.T) {
		stub := &tokenStub{}
		srv := newServer(t, stub.handler(200, jsonType, `{"access_token":"at2"}`))
		tok, err := newEndpoint(t, srv.URL, HTTPOptions{}).Refresh(context.Background(), "rt1")
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != "at2" || tok.RefreshToken != "rt1" {
			t.Errorf("token = %+v", tok)
		}
		form, _ := stub.last(t)
		want := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt1"}, "client_id": {"id"}, "client_secret": {"sec"}}
		if !reflect.DeepEqual(form, want) {
			t.Errorf("body = %v, want %v", form, want)
		}
	})
	t.Run("takes a rotated refresh token", func(t *testing.T) {
		srv := newServer(t, (&tokenStub{}).handler(200, jsonType, `{"access_token":"at2","refresh_token":"rt2"}`))
		tok, err := newEndpoint(t, srv.URL, HTTPOptions{}).Refresh(context.Background(), "rt1")
		if err != nil || tok.RefreshToken != "rt2" {
			t.Fatalf("Refresh = %+v, %v", tok, err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		srv := newServer(t, (&tokenStub{}).handler(400, jsonType, `{"error":"invalid_grant"}`))
		_, err := newEndpoint(t, srv.URL, HTTPOptions{}).Refresh(context.Background(), "rt1")
		wantCode(t, err, sdk.CodeSocialAccessTokenInvalid)
		wantNoLeak(t, err, "rt1", "sec")
	})
	t.Run("no refresh token", func(t *testing.T) {
		_, err := (&TokenEndpoint{}).Refresh(context.Background(), "")
		wantCode(t, err, sdk.CodeInsufficientRequestParameters)
	})
}

func TestTokenEndpointCapsTheAnswer(t *testing.T) {
	big := `{"access_token":"at","padding":"` + strings.Repeat("x", 5<<20) + `"}`
	for _, chunked := range []bool{false, true} {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", jsonType)
			if chunked {
				w.(http.Flusher).Flush() // no Content-Length: the cap must hold while reading
			}
			io.WriteString(w, big)
		})
		_, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(context.Background(), "c", "https://app/cb", "")
		e := wantCode(t, err, sdk.CodeInvalidResponse)
		if !strings.Contains(e.Message, "1 MiB") {
			t.Errorf("chunked=%v: message %q does not name the cap", chunked, e.Message)
		}
	}
}

func TestTokenEndpointThatNeverAnswers(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release) // runs before srv.Close, which waits for the handler

	t.Run("request timeout", func(t *testing.T) {
		e := newEndpoint(t, srv.URL, HTTPOptions{Timeout: 100 * time.Millisecond})
		_, err := e.Exchange(context.Background(), "the-code", "https://app/cb", "")
		got := wantCode(t, err, sdk.CodeProviderTimeout)
		if !strings.Contains(got.Message, "within 100ms") {
			t.Errorf("message %q does not give the timeout", got.Message)
		}
		wantNoLeak(t, err, "the-code", "sec")
	})
	t.Run("the caller's earlier deadline", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(120*time.Millisecond))
		defer cancel()
		_, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(ctx, "the-code", "https://app/cb", "")
		got := wantCode(t, err, sdk.CodeProviderTimeout)
		if strings.Contains(got.Message, "8s") {
			t.Errorf("message %q gives the request timeout, not the time the call had", got.Message)
		}
	})
}

func TestTokenRequestsAreNeverRetried(t *testing.T) {
	t.Run("connection dropped after the request", func(t *testing.T) {
		var requests atomic.Int32
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			io.Copy(io.Discard, r.Body)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		_, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(context.Background(), "the-code", "https://app/cb", "")
		wantCode(t, err, sdk.CodeProviderUnavailable)
		wantNoLeak(t, err, "the-code", "sec")
		if n := requests.Load(); n != 1 {
			t.Errorf("the code was sent %d times", n)
		}
	})
	t.Run("server error", func(t *testing.T) {
		stub := &tokenStub{}
		srv := newServer(t, stub.handler(503, "text/html", "<h1>down</h1>"))
		_, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(context.Background(), "c", "https://app/cb", "")
		wantCode(t, err, sdk.CodeProviderUnavailable)
		if n := stub.requests.Load(); n != 1 {
			t.Errorf("the code was sent %d times", n)
		}
	})
}

func TestTokenEndpointUnreachable(t *testing.T) {
	// Port 1 (a privileged port no test binds): a port taken with :0 and let
	// go could be taken again by another test's listener.
	const addr = "127.0.0.1:1"
	_, err := newEndpoint(t, "http://"+addr+"/token", HTTPOptions{}).Exchange(context.Background(), "c", "https://app/cb", "")
	e := wantCode(t, err, sdk.CodeProviderUnavailable)
	if !strings.Contains(e.Message, addr) || strings.Contains(e.Message, `Post "`) {
		t.Errorf("message = %q, want the host and no net/http prefix", e.Message)
	}
}

func TestTokenEndpointRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := newServer(t, func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) })
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/token", http.StatusTemporaryRedirect)
	})
	_, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(context.Background(), "c", "https://app/cb", "")
	e := wantCode(t, err, sdk.CodeInvalidResponse)
	if elsewhere.Load() != 0 {
		t.Error("the code was sent to the redirect target")
	}
	if e.Details["location"] != other.URL+"/token" {
		t.Errorf("details = %v, want the location", e.Details)
	}
}

func TestCallerCancellationIsNotAProviderFailure(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	e := newEndpoint(t, srv.URL, HTTPOptions{})
	e.HTTP.transport = cancelOnSend{e.HTTP.transport, cancel}
	_, err := e.Exchange(ctx, "c", "https://app/cb", "")
	wantCode(t, err, sdk.CodeGeneral)
}

// cancelOnSend cancels the caller's context as soon as a request goes out.
type cancelOnSend struct {
	rt     http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelOnSend) RoundTrip(r *http.Request) (*http.Response, error) {
	c.cancel()
	return c.rt.RoundTrip(r)
}

func TestEchoedSecretsAreRedacted(t *testing.T) {
	srv := newServer(t, (&tokenStub{}).handler(400, jsonType,
		`{"error":"invalid_grant","error_description":"code the-code-123 is unknown (client secret s3cr3t-value)","error_uri":"https://id.example.com/?code=the-code-123"}`))
	e := newEndpoint(t, srv.URL, HTTPOptions{})
	e.Auth.ClientSecret = "s3cr3t-value"
	_, err := e.Exchange(context.Background(), "the-code-123", "https://app/cb", "")
	got := wantCode(t, err, sdk.CodeSocialAuthCodeInvalid)
	wantNoLeak(t, err, "the-code-123", "s3cr3t-value")
	if !strings.Contains(got.Message, "code [redacted] is unknown") {
		t.Errorf("message = %q", got.Message)
	}
}

// TestAMalformedExpiresInIsDroppedWithAWarning: the sign-in goes on without an
// expiry, and the log names the field, never its value.
func TestAMalformedExpiresInIsDroppedWithAWarning(t *testing.T) {
	const odd = "soon-b7f3e1d2c9a8"
	srv := newServer(t, (&tokenStub{}).handler(200, jsonType, `{"access_token":"at","expires_in":"`+odd+`","refresh_token":"rt"}`))
	var logs bytes.Buffer
	ctx := logctx.With(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))
	tok, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(ctx, "code", "https://app.test/cb", "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != 0 || !tok.Expiry.IsZero() || tok.RefreshToken != "rt" || !reflect.DeepEqual(tok.Dropped, []string{"expires_in"}) {
		t.Errorf("token = %+v", tok)
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), `"field":"expires_in"`) {
		t.Errorf("no warning naming expires_in: %s", logs.String())
	}
	if strings.Contains(logs.String(), odd) {
		t.Errorf("the warning repeats the value: %s", logs.String())
	}
}

// A long error description cut at maxProviderText used to be cut before it was
// redacted: a secret straddling the cut kept its first part in the message, out of
// reach of the redaction. Every cut position across the secret is tried.
func TestEchoedSecretIsRedactedBeforeTheCut(t *testing.T) {
	const secret = "s3cr3t-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ" // 54 bytes
	for pad := maxProviderText - len(secret); pad <= maxProviderText; pad += 7 {
		description := strings.Repeat("x", pad) + secret + " was not accepted"
		body, _ := json.Marshal(map[string]string{"error": "invalid_client", "error_description": description})
		srv := newServer(t, (&tokenStub{}).handler(401, jsonType, string(body)))
		e := newEndpoint(t, srv.URL, HTTPOptions{})
		e.Auth.ClientSecret = secret
		_, err := e.Exchange(context.Background(), "the-code-123", "https://app/cb", "")
		wantCode(t, err, sdk.CodeInvalidConfig)
		// No 12 bytes of the secret in a row, anywhere.
		for i := 0; i+12 <= len(secret); i++ {
			wantNoLeak(t, err, secret[i:i+12])
		}
	}
}
