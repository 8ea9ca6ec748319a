package server

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/idplug/idplug/host/seal"
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
//
// One sealed token holds about 6 KB (seal.MaxPayloadLen), and a form_post
// callback may be far larger (Entra ID's id_token with the user's groups), so
// a larger callback is relayed in parts: each a token sealed for the
// connector, a random relay id, its index and the number of parts. A part
// opens only in its place in its own relay, so parts cannot be dropped,
// reordered or mixed with another callback's. A callback that fits one token
// is relayed as one token, as releases before parts did, so that a relay page
// served by one replica finishes on another during a rolling upgrade.

const (
	formPostFinishSuffix = "/finish"
	formPostRelayTTL     = time.Minute
	// relayPartLen is the most of the callback (its JSON) one token carries.
	relayPartLen = seal.MaxPayloadLen
	// maxRelayIDLen bounds the relay id a /finish POST names (newState's are 43).
	maxRelayIDLen = 64
)

// relayIDPattern is newState's alphabet: no ':' or '/', so that a relay id
// cannot shift the fields of a part's purpose.
var relayIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func formPostPurpose(connector string) string { return "form-post:" + connector }

// relayPartPurpose binds part i of n to its connector and relay.
func relayPartPurpose(connector, relayID string, i, n int) string {
	return formPostPurpose(connector) + ":" + relayID + ":" + strconv.Itoa(i) + "/" + strconv.Itoa(n)
}

// maxRelayLen bounds a relayed callback's JSON: twice the body cap, since JSON
// escapes a few characters the form may carry as one byte; a callback of
// printable text within the body cap always fits.
func (s *Server) maxRelayLen() int { return int(2 * s.settings.MaxBodyBytes) }

func (s *Server) maxRelayParts() int { return (s.maxRelayLen() + relayPartLen - 1) / relayPartLen }

// maxFinishBody caps the relay's POST to /finish: the largest relay, every
// part a full token, and the relay id. It is above MaxBodyBytes, which caps
// the provider's POST: the relay is that POST sealed, and so larger.
func (s *Server) maxFinishBody() int64 {
	return int64(s.maxRelayParts()*(len("&relay=")+seal.MaxTokenLen) + len("relay_id=") + maxRelayIDLen)
}

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
<body><form id="relay" method="post" action="{{.Action}}">{{if .ID}}<input type="hidden" name="relay_id" value="{{.ID}}">{{end}}{{range .Relays}}<input type="hidden" name="relay" value="{{.}}">{{end}}
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
	relayID, relays, err := s.sealRelay(id, data)
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
	_ = relayPage.Execute(w, map[string]any{"Action": s.callbackPath(id) + formPostFinishSuffix, "ID": relayID, "Relays": relays})
}

// sealRelay seals a callback's parameters for the relay page: one token when
// they fit in one (relayID is then empty), else parts under a new relay id.
func (s *Server) sealRelay(id string, data map[string]string) (relayID string, relays []string, err error) {
	b, err := marshal(data)
	if err != nil {
		return "", nil, err
	}
	if len(b) > s.maxRelayLen() {
		return "", nil, relayTooLarge(data, len(b), s.maxRelayLen())
	}
	if len(b) <= relayPartLen {
		t, err := s.sealer().Seal(formPostPurpose(id), b, formPostRelayTTL)
		return "", []string{t}, err
	}
	relayID = newState()
	n := (len(b) + relayPartLen - 1) / relayPartLen
	for i := range n {
		part := b[i*relayPartLen : min((i+1)*relayPartLen, len(b))]
		t, err := s.sealer().Seal(relayPartPurpose(id, relayID, i, n), part, formPostRelayTTL)
		if err != nil {
			return "", nil, err
		}
		relays = append(relays, t)
	}
	return relayID, relays, nil
}

// paramName is a parameter name an error message may quote.
var paramName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// relayTooLarge says how large the callback is, and which parameter is its
// largest, by name and size: never a value, which may be a code or a token.
func relayTooLarge(data map[string]string, size, limit int) error {
	largest := ""
	for k, v := range data {
		if l := len(data[largest]); len(v) > l || len(v) == l && k < largest {
			largest = k
		}
	}
	msg := fmt.Sprintf("the callback's parameters are too large to relay: %d bytes, the limit is %d", size, limit)
	if paramName.MatchString(largest) {
		msg += fmt.Sprintf(" (the largest is %s, %d bytes)", largest, len(data[largest]))
	}
	return &sdk.Error{Code: CodeRequestTooLarge, Message: msg}
}

// openRelay opens what the relay page posted: one token, or every part of a
// relay in order.
func (s *Server) openRelay(id string, form url.Values) (map[string]string, error) {
	var data map[string]string
	relayID := form.Get("relay_id")
	if relayID == "" {
		err := s.openJSON(formPostPurpose(id), form.Get("relay"), "the callback", &data)
		return data, err
	}
	relays := form["relay"]
	n := len(relays)
	if !relayIDPattern.MatchString(relayID) || n < 2 || n > s.maxRelayParts() {
		return nil, &sdk.Error{Code: CodeSessionInvalid, Message: "the callback is not valid"}
	}
	var b []byte
	for i, t := range relays {
		part, err := s.openSealed(relayPartPurpose(id, relayID, i, n), t, "the callback")
		if err != nil {
			return nil, err
		}
		b = append(b, part...)
	}
	if err := decodeSealed(b, &data); err != nil {
		return nil, &sdk.Error{Code: CodeSessionInvalid, Message: "the callback is not valid"}
	}
	return data, nil
}

func (s *Server) formPostFinish(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.checkConnectorID(id); err != nil {
		s.errorPage(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxFinishBody())
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.errorPage(w, r, &sdk.Error{Code: CodeRequestTooLarge, Message: fmt.Sprintf("the relayed callback is over %d bytes", s.maxFinishBody())})
			return
		}
		s.errorPage(w, r, badRequest("the callback form is not valid"))
		return
	}
	data, err := s.openRelay(id, r.PostForm)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.finishSignIn(w, r, id, data)
}

// readCallbackForm reads a form_post callback: a size-capped form body, one value
// per parameter, no more than maxCallbackFields of them.
func (s *Server) readCallbackForm(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, badRequest("a form_post callback must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.settings.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &sdk.Error{Code: CodeRequestTooLarge, Message: fmt.Sprintf("the callback's body is over %d bytes", s.settings.MaxBodyBytes)}
		}
		return nil, badRequest("the callback form is not valid")
	}
	if len(r.PostForm) > maxCallbackFields {
		return nil, badRequest("the callback has more than %d parameters", maxCallbackFields)
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
