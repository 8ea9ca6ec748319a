package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// requireAPIKey guards the /v1 API with bearer keys, compared in constant time.
func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	if len(s.settings.APIKeys) == 0 {
		return next
	}
	// Compare digests, so neither the keys' lengths nor which key matched leak through timing.
	digests := make([][32]byte, len(s.settings.APIKeys))
	for i, k := range s.settings.APIKeys {
		digests[i] = sha256.Sum256([]byte(k))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="idplug"`)
			writeError(w, r, &sdk.Error{Code: CodeUnauthorized, Message: "an API key is required: send Authorization: Bearer <key>"})
			return
		}
		got := sha256.Sum256([]byte(token))
		match := 0
		for _, d := range digests {
			match |= subtle.ConstantTimeCompare(got[:], d[:])
		}
		if match != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="idplug", error="invalid_token"`)
			writeError(w, r, &sdk.Error{Code: CodeUnauthorized, Message: "the API key is not valid"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
