package oidcprovider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/idplug/idplug/sdk"
)

// An app's sign-in request is tied to the browser that made it. Its id rides
// in the login page's and the finish step's URLs, which histories, shared
// screens and Referer headers can show to others; whoever had it could go on
// with the request in a browser of their own: end it with an error at the
// app, or, signed in as themselves, have a code for their own account sent
// with the app's state, to plant in the person's browser (a login CSRF the
// app's state check cannot see). /authorize gives the browser a mark (a
// cookie) and keeps its digest with the request; the login page and the
// finish step go on only in a browser that carries it, and leave the request
// pending otherwise.

// bindingKey holds, in an /authorize request's context, the browser's mark.
type bindingKey struct{}

// bindBrowser marks the browser at /authorize, before the library reads the
// request.
func (p *Provider) bindBrowser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/authorize" {
			if mark := p.opts.Browser.Bind(w, r, p.opts.RequestTTL); mark != "" {
				r = r.WithContext(context.WithValue(r.Context(), bindingKey{}, mark))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// boundBrowser is the digest a request made in ctx keeps of its browser's mark.
func boundBrowser(ctx context.Context) string {
	mark, _ := ctx.Value(bindingKey{}).(string)
	if mark == "" {
		return ""
	}
	return MarkDigest(mark)
}

// MarkDigest is what is kept of a browser's mark (the store's request
// records, the browser routes' sealed failures): no reader of them could
// present it.
func MarkDigest(mark string) string {
	sum := sha256.Sum256([]byte("idplug browser mark\x00" + mark))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// pendingHere is request id, when it is pending and r's browser made it.
// A request made in another browser stays pending for its own.
func (p *Provider) pendingHere(r *http.Request, id string) (authRequest, error) {
	ar, err := p.pending(r.Context(), id)
	if err != nil {
		return ar, err
	}
	if ar.Browser == "" {
		return ar, nil // made by a release that did not tie requests, at most RequestTTL ago
	}
	mark := p.opts.Browser.Binding(r)
	if mark == "" || subtle.ConstantTimeCompare([]byte(MarkDigest(mark)), []byte(ar.Browser)) != 1 {
		p.event("other_browser")
		return authRequest{}, &sdk.Error{Code: sdk.CodeAuthorizationFailed,
			Message: "this sign-in request was started in another browser, or this browser's cookies were cleared since; go back to the app and start again"}
	}
	return ar, nil
}
