package oauth2kit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// A provider that wants each request signed: the connector builds the
// request, Do sends it as the kit's own, and the answer's errors keep the
// kit's codes and never repeat the secret.
func TestDoSendsARequestOfTheConnectorsOwn(t *testing.T) {
	const secret = "the-shared-signing-secret-0123456789"
	sign := func(body string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return hex.EncodeToString(m.Sum(nil))
	}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		switch {
		case r.URL.Path == "/slow":
			<-r.Context().Done() // answers only once the client has given up
		case r.URL.Path == "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.Header.Get("X-Signature") != sign(r.PostForm.Encode()):
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`bad signature for secret ` + secret))
		case r.URL.Path == "/token":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":60}`))
		default:
			w.Write([]byte(`{"uid":7}`))
		}
	})
	// A deadline a loaded machine meets; the slow answer gets a short one.
	c := newHTTPClient(t, HTTPOptions{Timeout: 10 * time.Second})
	impatient := newHTTPClient(t, HTTPOptions{Timeout: 200 * time.Millisecond})
	ctx := context.Background()
	post := func(path, signature string) *http.Request {
		form := url.Values{"code": {"c"}, "ts": {"1"}}.Encode()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Signature", signature)
		return req
	}
	form := url.Values{"code": {"c"}, "ts": {"1"}}.Encode()

	resp, err := c.Do(ctx, post("/token", sign(form)), "token endpoint", secret)
	if err != nil || resp.Err("token endpoint") != nil {
		t.Fatalf("a signed request: %v %+v", err, resp)
	}
	tok, err := resp.Token(FormatAuto, GrantAuthorizationCode)
	if err != nil || tok.AccessToken != "at" {
		t.Fatalf("its token: %+v %v", tok, err)
	}

	resp, err = c.Do(ctx, post("/token", "forged"), "token endpoint", secret)
	if err != nil {
		t.Fatal(err)
	}
	e := wantCode(t, resp.Err("token endpoint"), sdk.CodeInvalidResponse)
	if resp.Status != http.StatusUnauthorized || !strings.Contains(e.Message, "HTTP 401") {
		t.Errorf("a refused signature: %d %v", resp.Status, e)
	}
	wantNoLeak(t, e, secret)

	resp, err = c.Do(ctx, post("/down", ""), "token endpoint", secret)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, resp.Err("token endpoint"), sdk.CodeProviderUnavailable)
	_, err = impatient.Do(ctx, post("/slow", ""), "token endpoint", secret)
	wantCode(t, err, sdk.CodeProviderTimeout)
	if _, err := c.Do(ctx, nil, "token endpoint"); err == nil {
		t.Error("a nil request was sent")
	}
}
