// Package stub is the benchmark suite's identity provider: a token endpoint that
// accepts any authorization code and a userinfo endpoint that accepts any bearer
// token, both answering with a few bytes of JSON over HTTP/1.1 with keep-alive on,
// and an authorization endpoint that signs every browser in at once. It does as
// little as a provider can, so that the cost measured is the client's.
package stub

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// The answers. The profile uses the keys of Logto's default profileMap (and of
// idplug's, which are the same), so every connector reads it with its defaults.
const (
	TokenAnswer    = `{"access_token":"bench-access-token","token_type":"Bearer","expires_in":3600,"scope":"openid profile email"}`
	UserInfoAnswer = `{"id":"u-1","name":"Ann Example","avatar":"https://example.com/ann.png","email":"ann@example.com","phone":"+15550100"}`
	// UserID is the id every connector must map the profile to.
	UserID = "u-1"
)

// Provider serves /authorize, /token, /userinfo and /stats, and an OpenID Provider
// under /oidc.
type Provider struct {
	authorize atomic.Int64
	tokens    atomic.Int64
	userinfos atomic.Int64
	refused   atomic.Int64
	oidc      oidcProvider
}

// Stats counts the requests served.
type Stats struct {
	Authorize int64 `json:"authorize"`
	Token     int64 `json:"token"`
	UserInfo  int64 `json:"userinfo"`
	Refused   int64 `json:"refused"`
}

// Handler returns the provider's routes.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", p.authorizeCode)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userInfo)
	p.oidc.routes(mux, p)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.Stats())
	})
	return mux
}

// Stats returns the counts so far.
func (p *Provider) Stats() Stats {
	return Stats{Authorize: p.authorize.Load(), Token: p.tokens.Load(), UserInfo: p.userinfos.Load(), Refused: p.refused.Load()}
}

var (
	tokenBody    = []byte(TokenAnswer)
	userInfoBody = []byte(UserInfoAnswer)
	jsonType     = []string{"application/json"}
	noCache      = []string{"no-store"}
)

// Code is the authorization code /authorize hands out; /token accepts any.
const Code = "bench-code"

// authorizeCode stands in for the provider's sign-in page: every browser is
// signed in at once and sent back to redirect_uri with a code and its state.
func (p *Provider) authorizeCode(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !back.IsAbs() || q.Get("response_type") != "code" || q.Get("client_id") == "" || q.Get("state") == "" {
		p.refused.Add(1)
		http.Error(w, "invalid_request", http.StatusBadRequest)
		return
	}
	p.authorize.Add(1)
	v := back.Query()
	v.Set("code", Code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	w.Header()["Cache-Control"] = noCache
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token accepts any code with the authorization_code grant; it only checks that the
// request is a well-formed one, so a client that sends nothing useful is noticed.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("grant_type") != "authorization_code" || r.PostFormValue("code") == "" {
		p.refused.Add(1)
		w.Header()["Content-Type"] = jsonType
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
		return
	}
	p.tokens.Add(1)
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noCache
	_, _ = w.Write(tokenBody)
}

func (p *Provider) userInfo(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if len(auth) < 8 || !strings.EqualFold(auth[:7], "bearer ") {
		p.refused.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	p.userinfos.Add(1)
	w.Header()["Content-Type"] = jsonType
	_, _ = w.Write(userInfoBody)
}

// Serve answers on lis until it is closed. Keep-alive is on (net/http's default);
// idle connections are kept for two minutes.
func (p *Provider) Serve(lis net.Listener) error {
	srv := &http.Server{
		Handler:           p.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return srv.Serve(lis)
}
