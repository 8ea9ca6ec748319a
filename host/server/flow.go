package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/sdk"
)

// flow is what a sign-in must remember between the authorization URL and the
// callback. It travels sealed: to the API caller as "session", or in a browser cookie.
// The plugin's session usually holds the redirect URI already: the host keeps
// only what it checks itself.
type flow struct {
	// ID names the flow in the store, where finishing it consumes it.
	ID string `json:"id,omitempty"`
	// Expires is when the seal runs out (Unix seconds): the store keeps the
	// consumed id until then, and no longer needs to.
	Expires int64       `json:"x,omitempty"`
	Session sdk.Session `json:"s"`
	// State is what the host checks the callback's state against.
	State string `json:"st"`
	// ReturnTo is where the browser goes after a browser sign-in.
	ReturnTo string `json:"rt,omitempty"`
	// Provider is a digest of who the connector named when the sign-in
	// started (Instances.TokensProvider): a flow finishes only while it still
	// does. A reload that pointed the connector at another provider (or
	// plugin) in between had sent the first provider's code, and the PKCE
	// verifier made for it, to the second one's token endpoint. "" in flows
	// sealed before it was kept.
	Provider string `json:"p,omitempty"`
}

// providerDigest is what a flow keeps of its connector's provider.
func providerDigest(provider string) string {
	sum := sha256.Sum256([]byte(provider))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// flowProvider is the Provider of a flow connector id starts now; "" when
// the connector cannot say (its sign-in fails on the way anyway).
func (s *Server) flowProvider(id string) string {
	p, err := s.host.TokensProvider(id)
	if err != nil {
		return ""
	}
	return providerDigest(p)
}

// sameProvider refuses to finish flow f of connector id once the connector
// names another provider than when f started; provider is what it names now.
// Nothing is spent: pointed back, the connector finishes it.
func sameProvider(f flow, id, provider string) error {
	if f.Provider == "" || subtle.ConstantTimeCompare([]byte(f.Provider), []byte(providerDigest(provider))) == 1 {
		return nil
	}
	// Started while the same plugin named no provider yet (an upgrade to a
	// release that names it), as sessions and vault records do.
	if plugin, _, _ := strings.Cut(provider, "\n"); subtle.ConstantTimeCompare([]byte(f.Provider), []byte(providerDigest(plugin+"\n"))) == 1 {
		return nil
	}
	return &sdk.Error{Code: CodeSessionInvalid, Message: fmt.Sprintf(
		"connector %s was pointed at another provider or plugin since this sign-in started; nothing was spent: start the sign-in again", id)}
}

// Seal purposes: a token sealed for one use never opens for another, and a flow
// sealed for one connector never opens for another.
func apiFlowPurpose(connector string) string     { return "api-flow:" + connector }
func browserFlowPurpose(connector string) string { return "browser-flow:" + connector }

// sealJSON seals v for purpose; a payload over the seal's limit is a *sizeError.
func (s *Server) sealJSON(purpose string, v any, ttl time.Duration) (string, error) {
	b, err := marshal(v)
	if err != nil {
		return "", err
	}
	if len(b) > seal.MaxPayloadLen {
		return "", &sizeError{size: len(b), limit: seal.MaxPayloadLen}
	}
	return s.sealer().Seal(purpose, b, ttl)
}

// openJSON opens a sealed token, turning seal errors into clear 400s.
func (s *Server) openJSON(purpose, token, what string, v any) error {
	b, err := s.openSealed(purpose, token, what)
	if err != nil {
		return err
	}
	if err := decodeSealed(b, v); err != nil {
		return &sdk.Error{Code: CodeSessionInvalid, Message: what + " is not valid"}
	}
	return nil
}

// openSealed opens a sealed token's bytes, turning seal errors into clear
// 400s that name what it was.
func (s *Server) openSealed(purpose, token, what string) ([]byte, error) {
	b, err := s.sealer().Open(purpose, token)
	switch {
	case errors.Is(err, seal.ErrExpired):
		return nil, &sdk.Error{Code: CodeSessionExpired, Message: what + " has expired; start the sign-in again"}
	case err != nil:
		return nil, &sdk.Error{Code: CodeSessionInvalid,
			Message: what + " is not valid: it was altered, sealed with an unknown key, or belongs to another connector"}
	}
	return b, nil
}

// newState returns 256 random bits, URL-safe.
func newState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
