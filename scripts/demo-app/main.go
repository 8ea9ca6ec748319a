// Command demo-app is the app of the `make run` demo: a web app that signs its
// users in through idplug as its OpenID Provider, with nothing but standard
// OpenID Connect (coreos/go-oidc and x/oauth2): the authorization code flow
// with PKCE, the ID token checked, userinfo, and RP-initiated logout.
//
//	demo-app -listen 127.0.0.1:8090 -issuer http://127.0.0.1:8080/oidc -client-id demo-app
//
// The client secret comes from the environment (DEMO_APP_CLIENT_SECRET), never
// a flag another user could read.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

type app struct {
	base     string
	issuer   string
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
	endURL   string
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to listen on")
	issuer := flag.String("issuer", "http://127.0.0.1:8080/oidc", "idplug's issuer")
	clientID := flag.String("client-id", "demo-app", "the app's client id at idplug")
	flag.Parse()
	base := "http://" + *listen
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, *issuer)
	if err != nil {
		log.Fatalf("demo-app: discovery at %s: %v", *issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = provider.Claims(&meta)
	a := &app{base: base, issuer: *issuer, provider: provider, endURL: meta.EndSession,
		verifier: provider.Verifier(&oidc.Config{ClientID: *clientID}),
		oauth: oauth2.Config{ClientID: *clientID, ClientSecret: os.Getenv("DEMO_APP_CLIENT_SECRET"), Endpoint: provider.Endpoint(),
			RedirectURL: base + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("GET /logout", a.logout)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Println("demo-app listening on " + base)
	log.Fatal(srv.ListenAndServe())
}

// The app's own session is a cookie holding the ID token and its claims; a
// real app would keep a server-side session.
const (
	sessionCookie = "demo_app_session"
	flowCookie    = "demo_app_flow"
)

type flow struct{ State, Nonce, Verifier string }

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
	setJSONCookie(w, flowCookie, f, 600)
	http.Redirect(w, r, a.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	var f flow
	if !readJSONCookie(r, flowCookie, &f) || r.URL.Query().Get("state") != f.State {
		http.Error(w, "this sign-in was not started here", http.StatusBadRequest)
		return
	}
	setJSONCookie(w, flowCookie, nil, -1)
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		http.Error(w, "sign-in failed: "+e+": "+q.Get("error_description"), http.StatusBadRequest)
		return
	}
	if q.Get("iss") != a.issuer { // RFC 9207: the answer is idplug's
		http.Error(w, "the answer came from another provider (iss)", http.StatusBadRequest)
		return
	}
	tok, err := a.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		http.Error(w, "code exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(r.Context(), raw)
	if err != nil || idt.Nonce != f.Nonce {
		http.Error(w, "the ID token does not verify", http.StatusBadGateway)
		return
	}
	claims := map[string]any{}
	_ = idt.Claims(&claims)
	if info, err := a.provider.UserInfo(r.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		_ = info.Claims(&claims)
	}
	setJSONCookie(w, sessionCookie, map[string]any{"idToken": raw, "claims": claims}, 3600)
	http.Redirect(w, r, "/", http.StatusFound)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	var s struct {
		IDToken string `json:"idToken"`
	}
	readJSONCookie(r, sessionCookie, &s)
	setJSONCookie(w, sessionCookie, nil, -1)
	u := a.endURL + "?" + url.Values{"id_token_hint": {s.IDToken}, "post_logout_redirect_uri": {a.base + "/"}}.Encode()
	http.Redirect(w, r, u, http.StatusFound)
}

var page = template.Must(template.New("home").Funcs(template.FuncMap{
	"json": func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	},
	// text gives a claim as a string, "" when it is absent or not one.
	"text": func(claims map[string]any, name string) string { s, _ := claims[name].(string); return s },
	// picture gives the picture claim when it is an http(s) URL, "" otherwise.
	"picture": func(claims map[string]any) template.URL {
		s, _ := claims["picture"].(string)
		if u, err := url.Parse(s); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			return template.URL(s)
		}
		return ""
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo app</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto}pre{background:#f5f6fa;padding:1rem;border-radius:8px}
a.button,button{display:inline-block;padding:.6rem 1rem;border:1px solid #d0d4e0;border-radius:8px;background:#fff;text-decoration:none;color:inherit;font:inherit;cursor:pointer}
.profile{display:flex;align-items:center;gap:1rem}.profile h1{margin:0}
img.avatar{width:64px;height:64px;border-radius:50%;object-fit:cover;background:#e4e7f0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem}dt{color:#6b7080}dd{margin:0;overflow-wrap:anywhere}</style></head>
<body>
{{if .}}<div class="profile">
{{with picture .}}<img class="avatar" id="avatar" src="{{.}}" alt="">{{end}}
<h1 id="greeting">Hello, {{or (text . "name") (text . "sub")}}</h1></div>
<dl>
{{with text . "name"}}<dt>Name</dt><dd id="user-name">{{.}}</dd>{{end}}
{{with text . "email"}}<dt>Email</dt><dd id="user-email">{{.}}</dd>{{end}}
<dt>Signed in with</dt><dd id="user-connector">{{or (text . "connector") "idplug"}}</dd>
</dl>
<p>Signed in through idplug, this app's OpenID Provider.</p>
<p>The claims of your ID token and userinfo:</p>
<pre id="claims">{{json .}}</pre>
<a class="button" id="sign-out" href="/logout">Sign out</a>
{{else}}<h1>Demo app</h1>
<p>This app signs its users in through idplug, its OpenID Provider.</p>
<a class="button" id="sign-in" href="/login">Sign in with idplug</a>{{end}}
</body></html>`))

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	var s struct {
		Claims map[string]any `json:"claims"`
	}
	readJSONCookie(r, sessionCookie, &s)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, s.Claims)
}

func setJSONCookie(w http.ResponseWriter, name string, v any, maxAge int) {
	b, _ := json.Marshal(v)
	http.SetCookie(w, &http.Cookie{Name: name, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func readJSONCookie(r *http.Request, name string, v any) bool {
	c, err := r.Cookie(name)
	if err != nil {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	return err == nil && json.Unmarshal(b, v) == nil
}
