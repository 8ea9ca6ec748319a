package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/internal/ratelimit"
	"github.com/idplug/idplug/sdk"
)

// secrets are what a config reload may change without a restart: the API keys and
// the session keys. They are swapped as a whole.
type secrets struct {
	apiKeys [][32]byte // SHA-256 of each key
	sealer  *seal.Sealer
}

func newSecrets(apiKeys []string, sealer *seal.Sealer) *secrets {
	s := &secrets{sealer: sealer, apiKeys: make([][32]byte, len(apiKeys))}
	for i, k := range apiKeys {
		s.apiKeys[i] = sha256.Sum256([]byte(k))
	}
	return s
}

// SetSecrets replaces the API keys and the sealer, for a config reload.
func (s *Server) SetSecrets(apiKeys []string, sealer *seal.Sealer) {
	s.secrets.Store(newSecrets(apiKeys, sealer))
}

func (s *Server) sealer() *seal.Sealer { return s.secrets.Load().sealer }

// requireAPIKey guards the /v1 API with bearer keys, compared in constant time.
// Without keys (allowed on loopback only) the API is open. An address that sent
// too many wrong keys is refused with 429 until its window ends, whatever key it
// sends meanwhile.
func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys := s.secrets.Load().apiKeys
		if len(keys) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		addr := ratelimit.ClientAddr(r.RemoteAddr)
		if wait, blocked := s.badKeys.Blocked(addr); blocked {
			s.countAuthFailure("rate_limited")
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, errorBody{Code: CodeTooManyAttempts,
				Message: "too many wrong API keys from this address; try again after Retry-After seconds"})
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="idplug"`)
			writeError(w, r, &sdk.Error{Code: CodeUnauthorized, Message: "an API key is required: send Authorization: Bearer <key>"})
			return
		}
		// Compare digests, so neither the keys' lengths nor which key matched leak through timing.
		got := sha256.Sum256([]byte(token))
		match := 0
		for _, d := range keys {
			match |= subtle.ConstantTimeCompare(got[:], d[:])
		}
		if match != 1 {
			s.badKeys.Fail(addr)
			s.countAuthFailure("invalid_key")
			w.Header().Set("WWW-Authenticate", `Bearer realm="idplug", error="invalid_token"`)
			writeError(w, r, &sdk.Error{Code: CodeUnauthorized, Message: "the API key is not valid"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) countAuthFailure(reason string) {
	if s.metrics != nil {
		s.metrics.APIKeyFailure(reason)
	}
}
