package connectortest

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
)

// checkSignInPKCE signs in and reads what the connector sent the provider: the
// authorization URL must carry an S256 code_challenge, and the code exchange the
// code_verifier it was made from (RFC 7636). A code caught on its way back to idplug
// is then worth nothing without the verifier, which never leaves the session.
//
// It runs before signin/complete: a connector that sends the wrong verifier cannot
// sign in at all, and this check names why.
func checkSignInPKCE(k *kit, t T) {
	auth, callback, ok := k.authorizeAtProvider(t)
	if !ok {
		return
	}
	q := url.Values{}
	if u, err := url.Parse(auth.RedirectTo); err == nil {
		q = u.Query()
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	p := k.opts.Provider
	before := len(p.RequestsTo(TokenEndpoint))
	_, err := k.finish(t, auth.Session, callback)
	var d *diedError
	if errors.As(err, &d) {
		k.deathsReported.Add(1) // signin/complete reports a sign-in that fails
	}
	exchange := codeExchange(p.RequestsTo(TokenEndpoint)[before:], callback["code"])
	switch {
	case challenge == "":
		t.Errorf("the authorization URL carries no code_challenge: send a PKCE S256 challenge (RFC 7636; oauth2kit.NewPKCE), and the verifier with the code; for a provider without PKCE, turn this check off in Options.Skip saying so")
	case method != "S256":
		if method == "" {
			method = "none, which means plain"
		} else {
			method = fmt.Sprintf("%q", truncate(method, 40))
		}
		t.Errorf("the authorization URL's code_challenge_method is %s; want S256: a plain challenge is the verifier itself, which whoever sees the URL can send with a stolen code", method)
	case exchange == nil:
		k.skipAfterFailure(t, "signin/complete", "the sign-in made no code exchange to read a code_verifier from, which signin/complete reports")
	default:
		k.checkCodeVerifier(t, challenge, exchange.Form.Get("code_verifier"))
	}
}

// codeExchange is the authorization_code request that sent code, or nil.
func codeExchange(requests []Request, code string) *Request {
	for i, r := range requests {
		if r.Form.Get("grant_type") == "authorization_code" && r.Form.Get("code") == code {
			return &requests[i]
		}
	}
	return nil
}

// checkCodeVerifier checks the code_verifier of a code exchange against the S256
// challenge of its authorization URL; neither is ever shown.
func (k *kit) checkCodeVerifier(t T, challenge, verifier string) {
	t.Helper()
	sum := sha256.Sum256([]byte(verifier))
	switch {
	case verifier == "":
		k.exchangeRefused.Store(true)
		t.Errorf("the code exchange carries no code_verifier, though the authorization URL carried a code_challenge, so the provider refuses the code: keep the verifier in the session and send it with the code")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != challenge:
		k.exchangeRefused.Store(true)
		t.Errorf("the code exchange's code_verifier does not match the authorization URL's code_challenge, so the provider refuses the code: send the verifier kept in this flow's session, and make the challenge BASE64URL(SHA-256(verifier)) without padding")
	case !wellFormedVerifier(verifier):
		t.Errorf("the code_verifier has %d characters, or characters RFC 7636 does not allow: it wants 43 to 128 of A-Z, a-z, 0-9, \"-\", \".\", \"_\" and \"~\", random (oauth2kit.NewPKCE makes one)", len(verifier))
	}
}

// wellFormedVerifier says whether v is an RFC 7636 code_verifier: 43 to 128
// unreserved characters.
func wellFormedVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && c != '-' && c != '.' && c != '_' && c != '~' {
			return false
		}
	}
	return true
}
