package oauth2kit

// A hostile identity provider against the kit: answers that must neither hold a
// call past its deadline nor carry what the request sent into an error.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// switchingProtocolsServer answers every request with "101 Switching Protocols"
// (Connection: Upgrade) and then says nothing more, holding the connection open
// until the test ends.
func switchingProtocolsServer(t *testing.T) string {
	return rawServer(t, func([]byte) string {
		return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n"
	})
}

// A provider that answers 101 Switching Protocols and then goes quiet makes
// HTTPClient.do block for good: net/http hands a 101's connection to the caller,
// and neither the request timeout nor the caller's deadline closes it, so
// io.ReadAll never returns. Every call to such a provider leaks a goroutine and a
// connection in the plugin, well past the host's call_timeout.
func TestSwitchingProtocolsIsNotAnAnswer(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name string
		call func(base string) error
	}{
		{"token endpoint", func(base string) error {
			_, err := newEndpoint(t, base+"/token", HTTPOptions{Timeout: timeout}).Exchange(context.Background(), "the-code", "https://app/cb", "")
			return err
		}},
		{"userinfo endpoint", func(base string) error {
			_, err := (&UserInfoEndpoint{URL: base + "/userinfo", HTTP: newHTTPClient(t, HTTPOptions{Timeout: timeout})}).Fetch(context.Background(), "the-token")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := switchingProtocolsServer(t)
			done := make(chan error, 1)
			go func() { done <- tc.call(base) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("a 101 answer was taken for a result")
				}
				var e *sdk.Error
				if !errAs(err, &e) || (e.Code != sdk.CodeProviderTimeout && e.Code != sdk.CodeInvalidResponse) {
					t.Errorf("error = %v, want provider_timeout or invalid_response", err)
				}
			case <-time.After(timeout + 5*time.Second):
				// The cleanup closes the connection, which lets the call return.
				t.Fatalf("the call is still blocked %s after its %s request timeout: a 101 answer escapes every deadline", 5*time.Second, timeout)
			}
		})
	}
}

func errAs(err error, e **sdk.Error) bool {
	se := sdk.AsError(err)
	*e = se
	return se != nil
}

// The token endpoint redacts what the request sent before it cuts the provider's
// text (TestEchoedSecretIsRedactedBeforeTheCut), but the revocation endpoint does
// not: Revoke reads the error through a response whose secrets are unset, so the
// description is cut at 300 runes first and redacted afterwards. A token (a
// refresh token, most often) echoed across the cut keeps all but its tail in the
// error, which the host logs.
func TestRevocationRedactsBeforeTheCut(t *testing.T) {
	const token = "RT-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOP" // 56 bytes
	for pad := maxProviderText - len(token) + 1; pad < maxProviderText; pad += 9 {
		description := strings.Repeat("x", pad) + token + " is not a token we issued"
		body, _ := json.Marshal(map[string]string{"error": "invalid_request", "error_description": description})
		srv := newServer(t, (&tokenStub{}).handler(400, jsonType, string(body)))
		e := &RevocationEndpoint{URL: srv.URL + "/revoke", Token: newEndpoint(t, srv.URL+"/token", HTTPOptions{})}
		err := e.Revoke(context.Background(), token, "refresh_token")
		if err == nil {
			t.Fatal("a 400 answer revoked the token")
		}
		for i := 0; i+12 <= len(token); i++ {
			if leaked(err, token[i:i+12]) {
				t.Fatalf("pad %d: the error keeps part of the revoked token (%q): %s", pad, token[i:i+12], sdk.AsError(err).Message)
			}
		}
	}
}

// leaked reports whether s is in err's message or details.
func leaked(err error, s string) bool {
	e := sdk.AsError(err)
	details, _ := json.Marshal(e.Details)
	return strings.Contains(e.Message, s) || strings.Contains(string(details), s)
}

// Redaction matches the secrets only as sent raw, but the request carries them
// encoded: form-encoded in the body (a base64 client secret's '+', '/', '='; a
// Google-style code "4/0A..."), and base64 in the Basic header. A provider (or the
// proxy in front of it) that echoes the request it could not process gets the
// client secret and the code into the error, and so into the host's log.
func TestEchoedSecretsAreRedactedAsSent(t *testing.T) {
	const (
		secret = "Zm9vYmFy+c2VjcmV0/ZXhh=" // base64 secrets are common
		code   = "4/0AeaYSHB-code-value"
	)
	t.Run("client_secret_post, the body echoed", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			raw, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", jsonType)
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "cannot process " + string(raw)})
		})
		e := newEndpoint(t, srv.URL, HTTPOptions{})
		e.Auth = ClientAuth{Method: ClientSecretPost, ClientID: "id", ClientSecret: secret}
		_, err := e.Exchange(context.Background(), code, "https://app/cb", "")
		wantCode(t, err, sdk.CodeInvalidRequestParameters)
		for _, s := range []string{url.QueryEscape(secret), url.QueryEscape(code)} {
			if leaked(err, s) {
				t.Errorf("the error keeps %q (form-encoded secret or code): %s", s, sdk.AsError(err).Message)
			}
		}
	})
	t.Run("client_secret_basic, the header echoed", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", jsonType)
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "bad Authorization: " + r.Header.Get("Authorization")})
		})
		e := newEndpoint(t, srv.URL, HTTPOptions{})
		e.Auth = ClientAuth{Method: ClientSecretBasic, ClientID: "id", ClientSecret: secret}
		_, err := e.Exchange(context.Background(), code, "https://app/cb", "")
		wantCode(t, err, sdk.CodeInvalidConfig)
		creds := basicCredentials("id", secret)
		if leaked(err, creds) {
			decoded, _ := base64.StdEncoding.DecodeString(creds)
			t.Errorf("the error keeps the Basic credentials %q, which decode to %q: %s", creds, decoded, sdk.AsError(err).Message)
		}
	})
}

// RFC 6749 section 7.1: "The client MUST NOT use an access token if it does not
// understand the token type." Any token_type is accepted, and UserInfoEndpoint
// then sends the token as Bearer: a MAC or DPoP-bound token is used as a bearer
// token.
func TestOnlyBearerTokensAreUsed(t *testing.T) {
	for _, typ := range []string{"mac", "DPoP", "N_A"} {
		srv := newServer(t, (&tokenStub{}).handler(200, jsonType, `{"access_token":"at-123456789","token_type":"`+typ+`"}`))
		tok, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(context.Background(), "the-code", "https://app/cb", "")
		if err == nil {
			t.Errorf("token_type %q accepted (token type %q): the token would be sent as Bearer", typ, tok.TokenType)
		}
	}
}

// rawServer answers each request with what answer makes of its body, written
// as is on the connection (no HTTP framing is added), and keeps the connection
// open, saying nothing more, until the test ends.
func rawServer(t *testing.T, answer func(body []byte) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				body, _ := io.ReadAll(req.Body)
				io.WriteString(c, answer(body))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// Redaction and providerText are applied to answers that parse as HTTP, never to
// a transport error: net/http quotes the offending line of a malformed answer
// (malformed HTTP status code "...", malformed MIME header line: ...), and
// transportError puts it into the message as it is. A provider that echoes the
// request there gets the authorization code and the client secret, raw, into the
// error, with no cut and control characters kept.
func TestMalformedAnswerEchoIsRedacted(t *testing.T) {
	const (
		secret = "s3cr3t-value-0123456789"
		code   = "the-code-0123456789"
	)
	for name, answer := range map[string]func([]byte) string{
		"status line": func(body []byte) string { return "HTTP/1.1 " + string(body) + "\r\n\r\n" },
		"header line": func(body []byte) string {
			return "HTTP/1.1 400 Bad Request\r\nX-Echo " + string(body) + "\r\n\r\n"
		},
	} {
		t.Run(name, func(t *testing.T) {
			base := rawServer(t, answer)
			e := newEndpoint(t, base+"/token", HTTPOptions{})
			e.Auth.ClientSecret = secret
			_, err := e.Exchange(context.Background(), code, "https://app/cb", "")
			if err == nil {
				t.Fatal("a malformed answer was accepted")
			}
			for _, s := range []string{secret, code} {
				if leaked(err, s) {
					t.Errorf("the error keeps %q: %s", s, sdk.AsError(err).Message)
				}
			}
		})
	}
}

// The answer's body is capped at MaxResponseBytes (1 MiB), but its headers are
// read up to net/http's default MaxResponseHeaderBytes, 10 MiB: a provider makes
// every call hold ten times the cap (more once parsed into an http.Header), and a
// sign-in makes two such calls.
func TestAnswerHeadersAreCapped(t *testing.T) {
	filler := strings.Repeat("h", 1000)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		for i := range 4 << 10 { // 4 MiB of headers
			w.Header().Add("X-Filler", filler+strings.Repeat("0", i%2))
		}
		w.Header().Set("Content-Type", jsonType)
		io.WriteString(w, `{"access_token":"at-0123456789","token_type":"Bearer"}`)
	})
	_, err := newEndpoint(t, srv.URL, HTTPOptions{}).Exchange(context.Background(), "the-code", "https://app/cb", "")
	if err == nil {
		t.Errorf("an answer with 4 MiB of headers was read whole, past the %s cap", byteSize(DefaultMaxResponseBytes))
	}
}
