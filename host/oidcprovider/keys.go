package oidcprovider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/printable"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The signing keys: for each algorithm (RS256, ES256) one active key signs,
// one next key is published before it ever signs (so relying parties that
// cache the key set know it when it takes over), and retired keys stay
// published for a window after they stop signing, for the tokens they signed.
// They live in the store, so every replica signs with the same keys; a
// rotation happens once across replicas.
//
// Whoever can write the store must not be able to add a key, so each row is
// sealed whole under session_keys (its algorithm, state, times and private
// key, its id in the authenticated data), and the published key is derived
// from the sealed private key: the row's public_jwk column is written for
// people reading the table, never read. A row that does not open is neither
// published nor used; it is dropped, logged at WARN, and a missing key is
// made anew (but see open: a set of which no row opens is an error). Every
// write seals every row again, under the first session key.

const (
	// keyPurpose sealed the private key alone, as releases before sealed rows
	// did; such a key set is read once and written back as sealed rows.
	keyPurpose = "oidc-signing-key"
	// sealedKeyTTL: a sealed key outlives any rotation schedule.
	sealedKeyTTL = 50 * 365 * 24 * time.Hour
	// keyCacheTTL is how long a replica signs from what it read before reading
	// the store again: a rotation elsewhere reaches it within this time, and
	// what it signed meanwhile verifies with the (still published) retired key.
	keyCacheTTL = 30 * time.Second
	// keyStaleMax is how long a replica that cannot read the store signs
	// with what it read last: a key withdrawn meanwhile (it leaked) must not
	// sign for as long as the store is out of reach.
	keyStaleMax = 5 * time.Minute
	// keyRetryAfter is how long, after a failed read of the keys, the cached
	// ones serve without asking the store again: each request had read it
	// in turn under the ring's lock, and of N requests together the last
	// waited N store timeouts.
	keyRetryAfter = 5 * time.Second
	// nextKeyMinAge is how long a next key is published before a rotation
	// makes it sign, unless forced: relying parties may keep /keys for its
	// max-age (5 minutes), and replicas read it again within keyCacheTTL. A
	// key published since then would sign ID tokens their cached key sets
	// lack: a second rotation minutes after the first did.
	nextKeyMinAge = 10 * time.Minute
	stateNext     = store.KeyNext
	stateActive   = store.KeyActive
	stateRetired  = store.KeyRetired
)

// keyRowPurpose seals a key's row, its id in the authenticated data: a row
// edited, made up or copied under another id does not open.
func keyRowPurpose(id string) string { return "oidc-signing-key-row:" + id }

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
	// retry is when the store is asked again after a failed read.
	retry time.Time
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

// ringKey is a key whose row opened: everything in it is authentic.
type ringKey struct {
	id       string
	alg      jose.SignatureAlgorithm
	state    string
	created  time.Time
	retireAt time.Time // zero unless retired
	priv     crypto.Signer
}

// sealedRow is what a key's row seals; the id is in the purpose. The times are
// Unix milliseconds, as the store keeps them.
type sealedRow struct {
	Algorithm string `json:"a"`
	State     string `json:"s"`
	CreatedAt int64  `json:"c"`
	RetireAt  int64  `json:"r,omitempty"`
	Private   []byte `json:"k"` // PKCS #8
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
	if r.cached != nil && r.now().Before(r.retry) && r.now().Sub(r.read) < keyStaleMax {
		return r.cached, nil // the store failed just now: not asked again yet
	}
	for range 5 {
		recs, err := r.st.SigningKeys(ctx)
		if err != nil {
			if r.cached != nil && r.now().Sub(r.read) < keyStaleMax {
				r.retry = r.now().Add(keyRetryAfter)
				return r.cached, nil // sign on with what we had; the store is retried soon
			}
			return nil, err
		}
		opened, rewrite, err := r.open(recs)
		if err != nil {
			return nil, err
		}
		keys, changed, err := r.complete(opened)
		if err != nil {
			return nil, err
		}
		if rewrite || changed {
			err := r.write(ctx, recs, keys)
			if errors.Is(err, store.ErrUsed) {
				continue // another replica made them first: read theirs
			}
			if err != nil {
				// The stored keys that opened still sign, when they hold an
				// active key of each algorithm (a key made here but not stored
				// would not be published by the other replicas); the write is
				// tried again at the next read, keyCacheTTL on.
				if set := build(opened); len(set.signers) == len(algorithms) {
					r.log.Warn("the signing keys could not be written; signing with the stored ones", "error", err)
					// Until the next read: each request had read and
					// written again, in turn, under the ring's lock.
					r.cached, r.read = set, r.now()
					return set, nil
				}
				return nil, err
			}
		}
		set := build(keys)
		r.cached, r.read = set, r.now()
		return set, nil
	}
	return nil, errors.New("oidcprovider: the signing keys kept changing while being read")
}

// check opens the stored rows under the ring's session keys, as current
// does, and writes nothing: what a reload asks before it is applied.
func (r *keyRing) check(ctx context.Context) error {
	recs, err := r.st.SigningKeys(ctx)
	if err != nil {
		return err
	}
	_, _, err = r.open(recs)
	return err
}

// open opens the rows. A row that does not open is left out, logged at WARN
// (its id, nothing of its content), and rewrite is set so that the set is
// written without it. A set of which no row opens is an error, not replaced:
// that is a session key dropped or missing on this replica far more likely
// than an attack, and replacing the keys would take them from every replica.
func (r *keyRing) open(recs []store.SigningKeyRecord) (keys []ringKey, rewrite bool, err error) {
	sealer := r.sealer()
	bad := make([]bool, len(recs))
	for i, rec := range recs {
		k, err := openRow(sealer, rec)
		if err != nil {
			bad[i] = true
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 && len(recs) > 0 {
		// A set written by a release before sealed rows, read once: each
		// private key that opens is the one its row had, and publishes its
		// own public key; the rest of such a row is taken as written. A set
		// with a single sealed row that opens never comes here.
		for i, rec := range recs {
			if k, err := openLegacy(sealer, rec); err == nil {
				keys = append(keys, k)
				bad[i] = false
			}
		}
		if len(keys) > 0 {
			r.log.Info("sealing the signing keys as whole rows (written by an earlier release, which sealed the private keys only)", "keys", len(keys))
			rewrite = true
		}
	}
	if len(keys) == 0 && len(recs) > 0 {
		return nil, false, fmt.Errorf("oidcprovider: signing key %q does not open under session_keys (was a session key dropped?), nor does any of the %d stored", logID(recs[0].ID), len(recs))
	}
	for i, rec := range recs {
		if bad[i] {
			r.log.Warn("a signing key's row does not open under the session keys: written or edited in the store, or sealed with a key no longer configured; not published, not used, and dropped",
				"key", logID(rec.ID), "state", logID(rec.State))
			rewrite = true
		}
	}
	return keys, rewrite, nil
}

// logID is a row's id or state cut for a log line (the logger quotes what
// needs it): a writer of the store chose it.
func logID(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return s
}

// openRow opens a sealed row; its columns must say what it sealed.
func openRow(sealer *seal.Sealer, rec store.SigningKeyRecord) (ringKey, error) {
	b, err := sealer.OpenRecord(keyRowPurpose(rec.ID), rec.Sealed)
	if err != nil {
		return ringKey{}, err
	}
	var row sealedRow
	if err := json.Unmarshal(b, &row); err != nil {
		return ringKey{}, err
	}
	if row.Algorithm != rec.Algorithm || row.State != rec.State || row.CreatedAt != unixMS(rec.CreatedAt) || row.RetireAt != unixMS(rec.RetireAt) {
		return ringKey{}, errors.New("oidcprovider: the row's columns are not what it sealed")
	}
	return parseKey(rec.ID, row.Algorithm, row.State, row.CreatedAt, row.RetireAt, row.Private)
}

// openLegacy opens the private key of a row an earlier release wrote.
func openLegacy(sealer *seal.Sealer, rec store.SigningKeyRecord) (ringKey, error) {
	der, err := sealer.Open(keyPurpose, string(rec.Sealed))
	if err != nil {
		return ringKey{}, err
	}
	return parseKey(rec.ID, rec.Algorithm, rec.State, unixMS(rec.CreatedAt), unixMS(rec.RetireAt), der)
}

func parseKey(id, alg, state string, created, retireAt int64, der []byte) (ringKey, error) {
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return ringKey{}, err
	}
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		if alg != string(jose.RS256) {
			return ringKey{}, errors.New("oidcprovider: an RSA key not for RS256")
		}
	case *ecdsa.PrivateKey:
		if alg != string(jose.ES256) || k.Curve != elliptic.P256() {
			return ringKey{}, errors.New("oidcprovider: an EC key not for ES256")
		}
	default:
		return ringKey{}, errors.New("oidcprovider: not a signing key")
	}
	switch {
	case state != stateNext && state != stateActive && state != stateRetired:
		return ringKey{}, errors.New("oidcprovider: an unknown key state")
	case (state == stateRetired) != (retireAt != 0):
		return ringKey{}, errors.New("oidcprovider: a retirement that does not fit the state")
	}
	k := ringKey{id: id, alg: jose.SignatureAlgorithm(alg), state: state, created: time.UnixMilli(created), priv: priv.(crypto.Signer)}
	if retireAt != 0 {
		k.retireAt = time.UnixMilli(retireAt)
	}
	return k, nil
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// write replaces the stored set (expect, as read) with keys, each row sealed
// again under the first session key.
func (r *keyRing) write(ctx context.Context, expect []store.SigningKeyRecord, keys []ringKey) error {
	sealer := r.sealer()
	next := make([]store.SigningKeyRecord, 0, len(keys))
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return err
		}
		row := sealedRow{Algorithm: string(k.alg), State: k.state, CreatedAt: unixMS(k.created), RetireAt: unixMS(k.retireAt), Private: der}
		b, err := json.Marshal(row)
		if err != nil {
			return err
		}
		sealed, err := sealer.SealRecord(keyRowPurpose(k.id), b, sealedKeyTTL)
		if err != nil {
			return err
		}
		pub, err := jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.id, Algorithm: string(k.alg), Use: "sig"}.MarshalJSON()
		if err != nil {
			return err
		}
		next = append(next, store.SigningKeyRecord{ID: k.id, Algorithm: string(k.alg), State: k.state,
			Sealed: sealed, Public: pub, CreatedAt: time.UnixMilli(row.CreatedAt), RetireAt: k.retireAt})
	}
	return r.st.ReplaceSigningKeys(ctx, expect, next)
}

// complete adds what the set lacks (an active and a next key per algorithm) and
// drops retired keys past their window.
func (r *keyRing) complete(keys []ringKey) ([]ringKey, bool, error) {
	now := r.now()
	var out []ringKey
	changed := false
	has := map[string]bool{}
	for _, k := range keys {
		if k.state == stateRetired && !k.retireAt.After(now) {
			changed = true
			continue
		}
		has[string(k.alg)+"/"+k.state] = true
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

// ErrNextKeyTooNew is a rotation refused because a next key was published
// less than nextKeyMinAge ago.
type ErrNextKeyTooNew struct{ Age, Wait time.Duration }

func (e ErrNextKeyTooNew) Error() string {
	return fmt.Sprintf("the next signing key was published %s ago, and relying parties keep the key set for up to 5 minutes: "+
		"one that signed now would be unknown to them; rotate again in %s, or force it to stop signing with the current key at once (a key that leaked)",
		e.Age.Round(time.Second), e.Wait.Round(time.Second))
}

// rotate makes each algorithm's next key active, retires the active one, and
// publishes a new next key, once across replicas. Unless forced, a next key
// published less than nextKeyMinAge ago refuses it (ErrNextKeyTooNew).
func (r *keyRing) rotate(ctx context.Context, force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range 5 {
		recs, err := r.st.SigningKeys(ctx)
		if err != nil {
			return err
		}
		keys, _, err := r.open(recs)
		if err != nil {
			return err
		}
		filled, _, err := r.complete(keys)
		if err != nil {
			return err
		}
		now := r.now()
		if !force {
			for _, k := range filled {
				if age := now.Sub(k.created); k.state == stateNext && age < nextKeyMinAge {
					return ErrNextKeyTooNew{Age: age, Wait: nextKeyMinAge - age}
				}
			}
		}
		var next []ringKey
		for _, k := range filled {
			switch k.state {
			case stateActive:
				k.state, k.retireAt = stateRetired, now.Add(r.retire)
			case stateNext:
				k.state = stateActive
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
		err = r.write(ctx, recs, next)
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

// ErrUnknownKey is a withdrawal naming a key the store does not hold.
type ErrUnknownKey struct {
	ID    string
	Known []string
}

func (e ErrUnknownKey) Error() string {
	return fmt.Sprintf("no signing key has the id %q (the stored keys: %s; idplug keys list shows them)",
		printable.Line(logID(e.ID)), printable.Line(strings.Join(e.Known, ", ")))
}

// withdraw drops the keys named (every key when all is set) from the store at
// once: not retired, so /keys stops publishing them and nothing signs with
// them, for keys that leaked. An algorithm whose signing key goes signs with
// its next key, unless that goes too, and whatever is then missing is made
// anew. It answers the keys withdrawn and the keys that sign afterwards.
func (r *keyRing) withdraw(ctx context.Context, ids []string, all bool) (gone []string, signing []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range 5 {
		recs, err := r.st.SigningKeys(ctx)
		if err != nil {
			return nil, nil, err
		}
		// As every other change of the keys, only under session keys that
		// open them: new keys sealed under others (a configuration that is
		// not the replicas') would leave every replica unable to sign.
		keys, _, err := r.open(recs)
		if err != nil {
			return nil, nil, err
		}
		drop := map[string]bool{}
		for _, id := range ids {
			if !slices.ContainsFunc(recs, func(rec store.SigningKeyRecord) bool { return rec.ID == id }) {
				known := make([]string, 0, len(recs))
				for _, rec := range recs {
					known = append(known, logID(rec.ID))
				}
				return nil, nil, ErrUnknownKey{ID: id, Known: known}
			}
			drop[id] = true
		}
		gone = gone[:0]
		for _, rec := range recs {
			if all || drop[rec.ID] {
				gone = append(gone, rec.ID)
			}
		}
		var kept []ringKey
		for _, k := range keys {
			if !all && !drop[k.id] {
				kept = append(kept, k)
			}
		}
		for _, alg := range algorithms {
			if slices.ContainsFunc(kept, func(k ringKey) bool { return k.alg == alg && k.state == stateActive }) {
				continue
			}
			if i := slices.IndexFunc(kept, func(k ringKey) bool { return k.alg == alg && k.state == stateNext }); i >= 0 {
				kept[i].state = stateActive
			}
		}
		kept, _, err = r.complete(kept)
		if err != nil {
			return nil, nil, err
		}
		err = r.write(ctx, recs, kept)
		if errors.Is(err, store.ErrUsed) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		r.cached = nil
		signing = signing[:0]
		for _, k := range kept {
			if k.state == stateActive {
				signing = append(signing, k.id)
			}
		}
		r.log.Warn("signing keys withdrawn", "keys", len(gone))
		return gone, signing, nil
	}
	return nil, nil, errors.New("oidcprovider: the signing keys kept changing during the withdrawal")
}

func (r *keyRing) generate(alg jose.SignatureAlgorithm, state string) (ringKey, error) {
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
		return ringKey{}, err
	}
	// The store keeps milliseconds; so does the sealed row.
	return ringKey{id: newID()[:16], alg: alg, state: state, created: time.UnixMilli(r.now().UnixMilli()), priv: priv}, nil
}

// build lists every key as published (its public half derived from the
// private one) and the active ones as signers.
func build(keys []ringKey) *keySet {
	set := &keySet{signers: map[jose.SignatureAlgorithm]*signingKey{}}
	for _, k := range keys {
		set.published = append(set.published, &publicKey{id: k.id, alg: k.alg, key: k.priv.Public()})
		if k.state == stateActive {
			set.signers[k.alg] = &signingKey{id: k.id, alg: k.alg, key: k.priv}
		}
	}
	return set
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
// Replicas pick the change up within keyCacheTTL. Unless forced, it refuses
// while a next key is new to the relying parties' cached key sets
// (ErrNextKeyTooNew).
func RotateKeys(ctx context.Context, st store.SigningKeys, sealer *seal.Sealer, idTokenTTL time.Duration, force bool) error {
	r := newKeyRing(st, func() *seal.Sealer { return sealer }, idTokenTTL, time.Now, hclog.NewNullLogger())
	return r.rotate(ctx, force)
}

// KeyInfo is a stored signing key as idplug keys list shows it: nothing secret.
type KeyInfo struct {
	ID        string
	Algorithm string
	State     string // next, active or retired; "unreadable" for a row that does not open
	Created   time.Time
	RetireAt  time.Time // when a retired key stops being published
}

// ListKeys lists the provider's stored signing keys (idplug keys list) as
// the provider reads them under sealer: a row it would not use (one that does
// not open, or a row of an earlier release's form beside sealed rows) is
// listed as unreadable, with no more than its id, since nothing else of it is
// authentic.
func ListKeys(ctx context.Context, st store.SigningKeys, sealer *seal.Sealer) ([]KeyInfo, error) {
	recs, err := st.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	r := newKeyRing(st, func() *seal.Sealer { return sealer }, 0, time.Now, hclog.NewNullLogger())
	keys, _, _ := r.open(recs) // none when no row opens: each is listed unreadable
	opened := map[string]ringKey{}
	for _, k := range keys {
		opened[k.id] = k
	}
	out := make([]KeyInfo, 0, len(recs))
	for _, rec := range recs {
		k, ok := opened[rec.ID]
		if !ok {
			out = append(out, KeyInfo{ID: rec.ID, State: "unreadable"})
			continue
		}
		out = append(out, KeyInfo{ID: k.id, Algorithm: string(k.alg), State: k.state, Created: k.created, RetireAt: k.retireAt})
	}
	return out, nil
}

// WithdrawKeys drops the signing keys named, or all of them, from st at once
// (idplug keys withdraw), for keys that leaked: see keyRing.withdraw.
// Replicas stop publishing and signing with them within keyCacheTTL, or at
// once on a reload.
func WithdrawKeys(ctx context.Context, st store.SigningKeys, sealer *seal.Sealer, idTokenTTL time.Duration, ids []string, all bool) (gone, signing []string, err error) {
	r := newKeyRing(st, func() *seal.Sealer { return sealer }, idTokenTTL, time.Now, hclog.NewNullLogger())
	return r.withdraw(ctx, ids, all)
}
