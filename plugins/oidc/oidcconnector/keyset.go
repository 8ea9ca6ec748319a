package oidcconnector

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// keySet is the provider's JWK set, fetched when first needed, kept until it
// expires, and fetched again when an ID token names a key id it does not hold, but
// never more often than minFetch allows.
type keySet struct {
	http     *oauth2kit.HTTPClient
	minFetch time.Duration
	now      func() time.Time

	mu        fetchLock
	url       string
	keys      []jose.JSONWebKey
	expires   time.Time
	lastFetch time.Time
	// failure is the last fetch's error from failedURL while nothing is
	// cached from it, answered until failedUntil.
	failure     error
	failedURL   string
	failedUntil time.Time
}

// lookup returns the keys that may have signed a token with kid and alg. A kid the
// cached set does not hold triggers one refresh (subject to the floor).
func (k *keySet) lookup(ctx context.Context, url, kid, alg string) ([]jose.JSONWebKey, error) {
	if err := k.mu.lock(ctx, "JWK set"); err != nil {
		return nil, err
	}
	defer k.mu.unlock()
	now := k.now()
	if k.url != url || k.keys == nil || !now.Before(k.expires) {
		if err := k.fetchLocked(ctx, url); err != nil {
			return nil, err
		}
	}
	found := matching(k.keys, kid, alg)
	if len(found) == 0 && k.now().Sub(k.lastFetch) >= k.minFetch {
		if err := k.fetchLocked(ctx, url); err != nil {
			return nil, err
		}
		found = matching(k.keys, kid, alg)
	}
	return found, nil
}

// again fetches the set anew, when the floor allows, and returns the keys of
// the new set that may have signed a token with kid and alg; nil when it was
// not fetched. It is for a token that names no key id and that no cached key
// verifies: a provider with one unnamed key that rotates it gives no other sign.
func (k *keySet) again(ctx context.Context, url, kid, alg string) ([]jose.JSONWebKey, error) {
	if err := k.mu.lock(ctx, "JWK set"); err != nil {
		return nil, err
	}
	defer k.mu.unlock()
	if k.url != url || k.now().Sub(k.lastFetch) < k.minFetch {
		return nil, nil
	}
	if err := k.fetchLocked(ctx, url); err != nil {
		return nil, err
	}
	return matching(k.keys, kid, alg), nil
}

// lacks reports whether the set was fetched from url and does not hold kid;
// false when ctx ends first (the lookup that follows says so).
func (k *keySet) lacks(ctx context.Context, url, kid string) bool {
	if k.mu.lock(ctx, "JWK set") != nil {
		return false
	}
	defer k.mu.unlock()
	return k.url == url && k.keys != nil && !slices.ContainsFunc(k.keys, func(j jose.JSONWebKey) bool { return j.KeyID == kid })
}

func (k *keySet) fetchLocked(ctx context.Context, url string) error {
	cached := k.url == url && k.keys != nil
	if !cached && k.failure != nil && k.failedURL == url && k.now().Before(k.failedUntil) {
		return k.failure
	}
	k.lastFetch = k.now()
	keys, lifetime, err := k.download(ctx, url)
	if err != nil {
		if cached {
			sdk.Logger(ctx).Warn("fetching the JWK set failed; keeping the cached keys", "error", err)
			k.expires = k.now().Add(retryAfterFailure)
			return nil
		}
		if ctx.Err() == nil { // the caller's own end says nothing of the provider
			k.failure, k.failedURL, k.failedUntil = err, url, k.now().Add(retryUncachedAfterFailure)
		}
		return err
	}
	k.url, k.keys, k.expires, k.failure = url, keys, k.now().Add(lifetime), nil
	return nil
}

// download fetches and reads the JWK set, and says how long to keep it. An
// answer that arrives but is no usable set fails like one that does not
// arrive: the cached keys are better than none, and asking again at every
// sign-in would not mend it.
func (k *keySet) download(ctx context.Context, url string) ([]jose.JSONWebKey, time.Duration, error) {
	doc, err := k.http.GetJSON(ctx, url, "JWK set")
	if err != nil {
		return nil, 0, err
	}
	keys, err := parseJWKS(doc.Body)
	return keys, ttl(doc), err
}

// parseJWKS reads a JWK set, keeping the public signing keys and skipping the
// ones it cannot use (other key types, encryption keys), as RFC 7517 section 5 asks.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw.Keys == nil {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the JWK set is not a JSON object with a keys array")
	}
	if len(raw.Keys) > maxKeys {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the JWK set holds %d keys; at most %d are read", len(raw.Keys), maxKeys)
	}
	keys := make([]jose.JSONWebKey, 0, len(raw.Keys))
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		if key.UnmarshalJSON(r) != nil || !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") {
			continue
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// matching picks the keys with kid (every key when the token names none) whose
// type fits alg. A key that names its own alg must name this one.
func matching(keys []jose.JSONWebKey, kid, alg string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		out = append(out, key)
	}
	return out
}
