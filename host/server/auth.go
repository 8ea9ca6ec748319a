package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/internal/printable"
	"github.com/idplug/idplug/internal/ratelimit"
	"github.com/idplug/idplug/sdk"
)

// secrets are what a config reload may change without a restart: the API keys and
// the session keys. They are swapped as a whole.
type secrets struct {
	apiKeys []keyEntry
	sealer  *seal.Sealer
}

// keyEntry is a configured key as the server holds it: its digest and what it
// may do, never the secret itself.
type keyEntry struct {
	digest [32]byte
	key    apikey.Key // with Secret cleared
}

func newSecrets(apiKeys []apikey.Key, sealer *seal.Sealer) *secrets {
	s := &secrets{sealer: sealer, apiKeys: make([]keyEntry, len(apiKeys))}
	for i, k := range apiKeys {
		s.apiKeys[i] = keyEntry{digest: k.Digest(), key: k}
		s.apiKeys[i].key.Secret = ""
	}
	return s
}

// SetSecrets replaces the API keys and the sealer, for a config reload.
func (s *Server) SetSecrets(apiKeys []apikey.Key, sealer *seal.Sealer) {
	s.secrets.Store(newSecrets(apiKeys, sealer))
}

func (s *Server) sealer() *seal.Sealer { return s.secrets.Load().sealer }

type keyContext struct{}

// withCallerKey records the key that authenticated r: in the request's info
// when the access log made one (the request then stays the one the muxes
// fill in, so the log sees its route), else in a copy's context.
func withCallerKey(r *http.Request, k apikey.Key) *http.Request {
	if info := infoOf(r); info != nil {
		info.key, info.keyed = k, true
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), keyContext{}, k))
}

// callerKey is the key that authenticated r; a key with every scope when /v1
// is served without keys (Settings.KeylessAPI); no scope at all otherwise.
func callerKey(r *http.Request) apikey.Key {
	if info := infoOf(r); info != nil && info.keyed {
		return info.key
	}
	if k, ok := r.Context().Value(keyContext{}).(apikey.Key); ok {
		return k
	}
	return apikey.Key{}
}

// requireAPIKey guards the /v1 API with bearer keys, compared in constant time.
// Without keys the API is closed (unless Settings.KeylessAPI): a plugin, or any
// local process, must not reach the vault through the host's own listener. An
// address that sent too many wrong keys is refused with 429 until its window
// ends, whatever key it sends meanwhile. What the key may do is checked per
// route (route).
func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys := s.secrets.Load().apiKeys
		if len(keys) == 0 {
			if s.settings.KeylessAPI {
				next.ServeHTTP(w, withCallerKey(r, apikey.Unscoped("")))
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="idplug"`)
			writeError(w, r, &sdk.Error{Code: CodeUnauthorized, Message: "/v1 is closed: this host has no api_keys; add one to its configuration to use the API"})
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
		token, problem := bearerToken(r.Header.Values("Authorization"))
		if problem != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="idplug"`)
			writeError(w, r, &sdk.Error{Code: CodeUnauthorized, Message: problem})
			return
		}
		// Compare digests, so neither the keys' lengths nor which key matched leak
		// through timing: every key is compared, and the match picked without a branch.
		got := sha256.Sum256([]byte(token))
		found := -1
		for i, e := range keys {
			eq := subtle.ConstantTimeCompare(got[:], e.digest[:])
			found = subtle.ConstantTimeSelect(eq, i, found)
		}
		if found < 0 {
			s.badKeys.Fail(addr)
			s.countAuthFailure("invalid_key")
			w.Header().Set("WWW-Authenticate", `Bearer realm="idplug", error="invalid_token"`)
			writeError(w, r, &sdk.Error{Code: CodeUnauthorized, Message: "the API key is not valid"})
			return
		}
		key := keys[found].key
		// A route registered without route() has no declared scope: only an
		// admin key may call it, so a route added in haste fails closed.
		if pattern := s.apiPattern(r); pattern != "" && pattern != apiFallback {
			if _, declared := s.scopes[pattern]; !declared && !key.Has(apikey.Admin) {
				s.countAuthFailure("forbidden")
				writeError(w, r, &sdk.Error{Code: CodeForbidden, Message: "this route declares no scope; only a key with the admin scope may call it"})
				return
			}
		}
		next.ServeHTTP(w, withCallerKey(r, key))
	})
}

// route registers a /v1 route with what a key needs to call it: scope (none
// for routes any valid key may read) and, when the pattern has {id}, the
// connector named there among the key's connectors. Every /v1 route goes
// through here, so a new one declares its scope where it is added.
func (s *Server) route(mux *http.ServeMux, pattern string, scope apikey.Scope, h http.HandlerFunc) {
	onConnector := strings.Contains(pattern, "{id}")
	s.scopes[pattern] = scope
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		k := callerKey(r)
		if scope != "" && !k.Has(scope) {
			s.countAuthFailure("forbidden")
			writeError(w, r, &sdk.Error{Code: CodeForbidden, Message: fmt.Sprintf("this API key does not have the %s scope", scope),
				Details: map[string]any{"scope": string(scope)}})
			return
		}
		if onConnector && !k.OnConnector(r.PathValue("id")) {
			s.countAuthFailure("forbidden")
			writeError(w, r, &sdk.Error{Code: CodeForbidden, Message: "this API key may not act on this connector"})
			return
		}
		h(w, r)
	})
}

func (s *Server) countAuthFailure(reason string) {
	if s.metrics != nil {
		s.metrics.APIKeyFailure(reason)
	}
}

// apiPattern is the /v1 route pattern r matches; "" when there is none.
func (s *Server) apiPattern(r *http.Request) string {
	if s.api == nil {
		return ""
	}
	_, pattern := s.api.Handler(r)
	return pattern
}

// bearerToken reads the API key of an Authorization header: the scheme's name
// in any case and any spaces after it (RFC 7235 2.1). More than one header is
// refused: which would count is anyone's guess. problem says what is wrong.
func bearerToken(headers []string) (token, problem string) {
	switch {
	case len(headers) == 0:
		return "", "an API key is required: send Authorization: Bearer <key>"
	case len(headers) > 1:
		return "", "send one Authorization header, not several"
	}
	scheme, rest, _ := strings.Cut(headers[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if len(scheme) > 16 || !printable.Clean(scheme) {
			scheme = "another"
		}
		return "", "the Authorization scheme must be Bearer, not " + scheme + ": send Authorization: Bearer <key>"
	}
	if token = strings.TrimLeft(rest, " "); token == "" {
		return "", "an API key is required: send Authorization: Bearer <key>"
	}
	return token, ""
}
