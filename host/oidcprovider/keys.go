package oidcprovider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The signing keys: for each algorithm (RS256, ES256) one active key signs,
// one next key is published before it ever signs (so relying parties that
// cache the key set know it when it takes over), and retired keys stay
// published for a window after they stop signing, for the tokens they signed.
// They live in the store, private keys sealed under session_keys, so every
// replica signs with the same keys; a rotation happens once across replicas.

const (
	keyPurpose = "oidc-signing-key"
	// sealedKeyTTL: a sealed private key outlives any rotation schedule.
	sealedKeyTTL = 50 * 365 * 24 * time.Hour
	// keyCacheTTL is how long a replica signs from what it read before reading
	// the store again: a rotation elsewhere reaches it within this time, and
	// what it signed meanwhile verifies with the (still published) retired key.
	keyCacheTTL  = 30 * time.Second
	stateNext    = "next"
	stateActive  = "active"
	stateRetired = "retired"
)

var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

type keyRing struct {
	st     store.SigningKeys
	sealer func() *seal.Sealer
	retire time.Duration
	now    func() time.Time
	log    hclog.Logger

	mu     sync.Mutex
	cached *keySet
	read   time.Time
}

type keySet struct {
	signers   map[jose.SignatureAlgorithm]*signingKey
	published []op.Key
}

func newKeyRing(st store.SigningKeys, sealer func() *seal.Sealer, idTokenTTL time.Duration, now func() time.Time, log hclog.Logger) *keyRing {
	// Retired keys stay published for the ID tokens they signed, which apps
	// also send back as id_token_hint when they sign out.
	return &keyRing{st: st, sealer: sealer, retire: max(idTokenTTL, time.Hour) + 24*time.Hour, now: now, log: log}
}

// signingKey is a private key that signs.
type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a published key.
type publicKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key any
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }

func (r *keyRing) signing(ctx context.Context, alg jose.SignatureAlgorithm) (op.SigningKey, error) {
	set, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	k, ok := set.signers[alg]
	if !ok {
		return nil, fmt.Errorf("oidcprovider: no %s signing key", alg)
	}
	return k, nil
}

func (r *keyRing) published(ctx context.Context) ([]op.Key, error) {
	set, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	return set.published, nil
}

// current is the key set, read from the store at most every keyCacheTTL, and
// made there on first use.
func (r *keyRing) current(ctx context.Context) (*keySet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cached != nil && r.now().Sub(r.read) < keyCacheTTL {
		return r.cached, nil
	}
	for range 5 {
		recs, err := r.st.SigningKeys(ctx)
		if err != nil {
			if r.cached != nil {
				return r.cached, nil // sign on with what we had; the store is retried next time
			}
			return nil, err
		}
		next, changed, err := r.complete(recs)
		if err != nil {
			return nil, err
		}
		if changed {
			err := r.st.ReplaceSigningKeys(ctx, recs, next)
			if errors.Is(err, store.ErrUsed) {
				continue // another replica made them first: read theirs
			}
			if err != nil {
				return nil, err
			}
		}
		set, err := r.build(next)
		if err != nil {
			return nil, err
		}
		r.cached, r.read = set, r.now()
		return set, nil
	}
	return nil, errors.New("oidcprovider: the signing keys kept changing while being read")
}

// complete adds what the set lacks (an active and a next key per algorithm) and
// drops retired keys past their window.
func (r *keyRing) complete(recs []store.SigningKeyRecord) ([]store.SigningKeyRecord, bool, error) {
	now := r.now()
	var out []store.SigningKeyRecord
	changed := false
	has := map[string]bool{}
	for _, k := range recs {
		if k.State == stateRetired && !k.RetireAt.After(now) {
			changed = true
			continue
		}
		has[k.Algorithm+"/"+k.State] = true
		out = append(out, k)
	}
	for _, alg := range algorithms {
		for _, state := range []string{stateActive, stateNext} {
			if has[string(alg)+"/"+state] {
				continue
			}
			k, err := r.generate(alg, state)
			if err != nil {
				return nil, false, err
			}
			out = append(out, k)
			changed = true
		}
	}
	return out, changed, nil
}

// rotate makes each algorithm's next key active, retires the active one, and
// publishes a new next key, once across replicas.
func (r *keyRing) rotate(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range 5 {
		recs, err := r.st.SigningKeys(ctx)
		if err != nil {
			return err
		}
		filled, _, err := r.complete(recs)
		if err != nil {
			return err
		}
		now := r.now()
		var next []store.SigningKeyRecord
		for _, k := range filled {
			switch k.State {
			case stateActive:
				k.State, k.RetireAt = stateRetired, now.Add(r.retire)
			case stateNext:
				k.State = stateActive
			}
			next = append(next, k)
		}
		for _, alg := range algorithms {
			k, err := r.generate(alg, stateNext)
			if err != nil {
				return err
			}
			next = append(next, k)
		}
		err = r.st.ReplaceSigningKeys(ctx, recs, next)
		if errors.Is(err, store.ErrUsed) {
			continue
		}
		if err != nil {
			return err
		}
		r.cached = nil
		r.log.Info("signing keys rotated", "retired_until", now.Add(r.retire).UTC().Format(time.RFC3339))
		return nil
	}
	return errors.New("oidcprovider: the signing keys kept changing during the rotation")
}

func (r *keyRing) generate(alg jose.SignatureAlgorithm, state string) (store.SigningKeyRecord, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		err = fmt.Errorf("oidcprovider: no keys for %s", alg)
	}
	if err != nil {
		return store.SigningKeyRecord{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKeyRecord{}, err
	}
	id := newID()[:16]
	sealed, err := r.sealer().Seal(keyPurpose, der, sealedKeyTTL)
	if err != nil {
		return store.SigningKeyRecord{}, err
	}
	pub, err := jose.JSONWebKey{Key: priv.Public(), KeyID: id, Algorithm: string(alg), Use: "sig"}.MarshalJSON()
	if err != nil {
		return store.SigningKeyRecord{}, err
	}
	return store.SigningKeyRecord{ID: id, Algorithm: string(alg), State: state, Sealed: []byte(sealed), Public: pub, CreatedAt: r.now()}, nil
}

// build opens the active keys and lists every published one.
func (r *keyRing) build(recs []store.SigningKeyRecord) (*keySet, error) {
	set := &keySet{signers: map[jose.SignatureAlgorithm]*signingKey{}}
	for _, k := range recs {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(k.Public); err != nil {
			return nil, fmt.Errorf("oidcprovider: signing key %s: %w", k.ID, err)
		}
		alg := jose.SignatureAlgorithm(k.Algorithm)
		set.published = append(set.published, &publicKey{id: k.ID, alg: alg, key: jwk.Key})
		if k.State != stateActive {
			continue
		}
		der, err := r.sealer().Open(keyPurpose, string(k.Sealed))
		if err != nil {
			return nil, fmt.Errorf("oidcprovider: signing key %s does not open under session_keys (was a session key dropped?): %w", k.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("oidcprovider: signing key %s: %w", k.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("oidcprovider: signing key %s is not a signing key", k.ID)
		}
		set.signers[alg] = &signingKey{id: k.ID, alg: alg, key: signer}
	}
	return set, nil
}

// The algorithm of the client a token is for travels in the context, from the
// token endpoint to SigningKey, which the library calls without the client.
type algKey struct{}

func withClientAlg(ctx context.Context, c op.Client) context.Context {
	if cl, ok := c.(*client); ok {
		return context.WithValue(ctx, algKey{}, jose.SignatureAlgorithm(cl.cfg.IDTokenAlg))
	}
	return ctx
}

func clientAlg(ctx context.Context) jose.SignatureAlgorithm {
	if alg, ok := ctx.Value(algKey{}).(jose.SignatureAlgorithm); ok && alg != "" {
		return alg
	}
	return jose.RS256 // the algorithm every relying party must accept
}

// RotateKeys rotates the provider's signing keys in st (idplug keys rotate):
// each algorithm's next key starts signing, the signing one stays published
// until tokens it signed have expired, and a new next key is published.
// Replicas pick the change up within keyCacheTTL.
func RotateKeys(ctx context.Context, st store.SigningKeys, sealer *seal.Sealer, idTokenTTL time.Duration) error {
	r := newKeyRing(st, func() *seal.Sealer { return sealer }, idTokenTTL, time.Now, hclog.NewNullLogger())
	return r.rotate(ctx)
}
