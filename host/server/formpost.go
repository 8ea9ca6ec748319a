package server

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
)

// form_post callbacks (OAuth 2.0 Form Post Response Mode): the provider's page
// POSTs the callback to /callback/{id}. That POST comes from the provider's site,
// so the browser leaves the SameSite=Lax flow cookie out of it, and the flow cannot
// be checked there. Rather than weaken the cookie (SameSite=None would send it
// with any cross-site request), the POST is relayed:
//
//  1. POST /callback/{id} seals the posted parameters (code, state, id_token,
//     Apple's user...) for one minute and answers a tiny page that submits them,
//     sealed, to POST /callback/{id}/finish.
//  2. That second POST starts on this site, so the Lax flow cookie comes with it;
//     it finishes the sign-in exactly as the GET callback does.
//
// The code never appears in a URL (so in no access log, history or Referer), and
// the page carries it only sealed.

const (
	formPostFinishSuffix = "/finish"
	formPostRelayTTL     = time.Minute
	maxFormPostFields    = 32
)

func formPostPurpose(connector string) string { return "form-post:" + connector }

// registerFormPost adds the two form_post routes.
func (s *Server) registerFormPost(mux *http.ServeMux) {
	mux.HandleFunc("POST /callback/{id}", s.formPostCallback)
	mux.HandleFunc("POST /callback/{id}"+formPostFinishSuffix, s.formPostFinish)
}

// relayScript submits the relay form; the page's Content-Security-Policy allows
// this one script by its hash and nothing else.
const relayScript = `document.getElementById("relay").submit();`

var relayScriptHash = func() string {
	sum := sha256.Sum256([]byte(relayScript))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}()

var relayPage = template.Must(template.New("relay").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Signing in…</title></head>
<body><form id="relay" method="post" action="{{.Action}}"><input type="hidden" name="relay" value="{{.Relay}}">
<noscript><button type="submit">Continue</button></noscript></form>
<script>` + relayScript + `</script></body></html>
`))

func (s *Server) formPostCallback(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.checkConnectorID(id); err != nil {
		s.errorPage(w, r, err)
		return
	}
	data, err := s.readCallbackForm(w, r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	sealed, err := s.sealJSON(formPostPurpose(id), data, formPostRelayTTL)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// No form-action: it also binds every redirect after the post, and /finish
	// may go on to an app on another origin (the OpenID Provider's finish sends
	// the code there). The one form's action is fixed, and only the hashed
	// script runs.
	h.Set("Content-Security-Policy", fmt.Sprintf("default-src 'none'; script-src '%s'; frame-ancestors 'none'; base-uri 'none'", relayScriptHash))
	_ = relayPage.Execute(w, map[string]string{"Action": s.callbackPath(id) + formPostFinishSuffix, "Relay": sealed})
}

func (s *Server) formPostFinish(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.checkConnectorID(id); err != nil {
		s.errorPage(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.settings.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, badRequest("the callback form is not valid"))
		return
	}
	var data map[string]string
	if err := s.openJSON(formPostPurpose(id), r.PostForm.Get("relay"), "the callback", &data); err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.finishSignIn(w, r, id, data)
}

// readCallbackForm reads a form_post callback: a size-capped form body, one value
// per parameter, no more than maxFormPostFields of them.
func (s *Server) readCallbackForm(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, badRequest("a form_post callback must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.settings.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &sdk.Error{Code: CodeRequestTooLarge, Message: fmt.Sprintf("the callback is over %d bytes", s.settings.MaxBodyBytes)}
		}
		return nil, badRequest("the callback form is not valid")
	}
	if len(r.PostForm) > maxFormPostFields {
		return nil, badRequest("the callback has more than %d parameters", maxFormPostFields)
	}
	data := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		if len(v) > 0 {
			data[k] = v[0]
		}
	}
	return data, nil
}

// callbackPath is the path of a connector's callback under public_url.
func (s *Server) callbackPath(id string) string {
	return s.link("/callback/" + url.PathEscape(id))
}
