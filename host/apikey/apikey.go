// Package apikey is what an API key of /v1 may do: the scopes it holds and the
// connector instances it may use them on. The config decodes keys into it and
// the server checks every request against it; it holds no policy of its own
// beyond Allows.
package apikey

import (
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
)

// Scope is one permission a key can hold.
type Scope string

// The scopes. Signin covers a sign-in's calls (authorization-uri, user-info,
// refresh); TokensRead reads vault records without their refresh token, and
// TokensReadRefresh with it; TokensDelete deletes them (revoking the grant);
// Admin reloads the configuration and runs every other admin route.
const (
	SignIn            Scope = "signin"
	TokensRead        Scope = "tokens:read"
	TokensReadRefresh Scope = "tokens:read_refresh"
	TokensDelete      Scope = "tokens:delete"
	Admin             Scope = "admin"
)

// Scopes lists every scope, in the order documentation shows them.
func Scopes() []Scope {
	return []Scope{SignIn, TokensRead, TokensReadRefresh, TokensDelete, Admin}
}

// Known reports whether s names a scope.
func Known(s string) bool { return slices.Contains(Scopes(), Scope(s)) }

// Key is one configured API key.
type Key struct {
	// Secret is the bearer token itself; never print it.
	Secret string
	// Connectors are the instance ids the key may act on; empty means every one.
	Connectors []string
	// Scopes are what the key may do.
	Scopes []Scope
	// Plain marks a key written as a bare string: it may do everything, on
	// every connector, as every key could before scopes existed.
	Plain bool
}

// Unscoped is a plain key: every scope on every connector.
func Unscoped(secret string) Key { return Key{Secret: secret, Scopes: Scopes(), Plain: true} }

// Has reports whether k holds scope. TokensReadRefresh implies TokensRead: a
// key that may read refresh tokens may read the rest of the record.
func (k Key) Has(scope Scope) bool {
	if slices.Contains(k.Scopes, scope) {
		return true
	}
	return scope == TokensRead && slices.Contains(k.Scopes, TokensReadRefresh)
}

// OnConnector reports whether k may act on instance id.
func (k Key) OnConnector(id string) bool {
	return len(k.Connectors) == 0 || slices.Contains(k.Connectors, id)
}

// Digest is the SHA-256 of the secret: keys are compared (and kept in memory
// by the server) as digests.
func (k Key) Digest() [32]byte { return sha256.Sum256([]byte(k.Secret)) }

// String describes k without its secret.
func (k Key) String() string {
	if k.Plain {
		return "api key (plain: every scope, every connector)"
	}
	on := "every connector"
	if len(k.Connectors) > 0 {
		on = "connectors " + strings.Join(k.Connectors, ",")
	}
	names := make([]string, len(k.Scopes))
	for i, s := range k.Scopes {
		names[i] = string(s)
	}
	return "api key (" + strings.Join(names, " ") + " on " + on + ")"
}

// GoString keeps %#v from printing the secret too.
func (k Key) GoString() string { return k.String() }

// MarshalJSON keeps encoding/json (an API answer, a debug dump of a config
// holding keys, slog's JSON handler) from writing the secret: k is encoded as
// String describes it.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// LogValue keeps every slog handler from writing the secret, one that reads a
// struct's fields itself included: k is logged as String describes it.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }
