package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
	"golang.org/x/sync/singleflight"
)

// RefreshFunc renews a token set through the instance's connector, while the
// instance names provider (Keeper.Provider), the one the tokens were kept for.
type RefreshFunc func(ctx context.Context, instance, provider, refreshToken string) (*sdk.TokenSet, error)

// Keeper is the vault's policy over the store: it keeps the token sets of
// sign-ins sealed under (instance, provider user id), and hands them back fresh,
// refreshing through the connector first when they are about to expire. Any
// front (the /v1 API, an OpenID Provider) reads tokens through it.
type Keeper struct {
	// Vault seals and opens the records.
	Vault *Vault
	// Tokens is where the sealed records live.
	Tokens store.Tokens
	// Refresh renews a token set through the instance's connector.
	Refresh RefreshFunc
	// Provider, when set, names who honours an instance's tokens now: the
	// plugin's id, a newline, and the provider its connector names (empty when
	// it names none). Each record is sealed with it, and a record sealed for
	// another is neither handed out nor refreshed: the instance was pointed
	// elsewhere since. A record sealed when the plugin named no provider
	// serves while the same plugin does, so that a plugin's upgrade to one that
	// names its provider keeps every record.
	Provider func(instance string) (string, error)
	// RemovedAt, when set, is when an instance was last removed from the
	// configuration (Unix ms), if ever: a record kept before then is neither
	// handed out nor refreshed once the instance is back (the operator
	// removed a connector found hostile, say, whose plugin may have kept
	// any tokens under any user id), as its browser sessions are not.
	RemovedAt func(instance string) (int64, bool)
	// Margin is how long before expiry a token set is refreshed on read.
	Margin time.Duration
	// OnOp, when set, is told of each store operation (put, read, refresh,
	// delete) and its error, for metrics.
	OnOp func(op string, err error)
	// OnRefresh, when set, is told of each refresh's result: ok, refused or failed.
	OnRefresh func(result string)

	// flights lets the callers of one process that want the same record
	// refreshed share one locked update (see refresh).
	flights singleflight.Group
	// arrived, when set (tests only), is told of each caller that reaches the
	// refresh and waits for the shared update.
	arrived func()
}

// OpenError is a record that does not open: the operator's to fix (a vault key
// was dropped too early, or the record was altered). Its message names the
// record and key, never a secret.
type OpenError struct{ Err error }

func (e *OpenError) Error() string { return e.Err.Error() }
func (e *OpenError) Unwrap() error { return e.Err }

// OtherProviderError is a record kept for another provider (or plugin) than
// the one its instance names now. Its tokens are not handed out, and never go
// to the instance's connector, which would send them to its provider.
type OtherProviderError struct {
	Instance, UserID string
	// Removed: kept before the instance was last removed from the configuration.
	Removed bool
}

func (e *OtherProviderError) Error() string {
	if e.Removed {
		return "the tokens kept for " + e.Instance + "/" + e.UserID + " were kept before the connector was removed from the configuration; " +
			"they are not used, and the user must sign in again"
	}
	return "the tokens kept for " + e.Instance + "/" + e.UserID + " came from another provider or plugin than the one the connector is configured with now; " +
		"they are not used, and the user must sign in again"
}

// RefusedRefresh is the error of a read whose tokens the provider refused to
// refresh, now or before: the grant is gone and the user must sign in again.
func RefusedRefresh() *sdk.Error {
	return &sdk.Error{Code: sdk.CodeSocialAccessTokenInvalid,
		Message: "the provider refused to refresh these tokens; the user must sign in again"}
}

// Put seals and stores the token set of a finished sign-in, bound to the
// provider the instance names now.
func (k *Keeper) Put(ctx context.Context, instance, userID string, tokens *sdk.TokenSet) error {
	provider, err := k.provider(instance)
	if err != nil {
		return err
	}
	return k.PutFor(ctx, instance, userID, provider, tokens)
}

// PutFor is Put for tokens that provider (as Options.Provider names it) gave:
// the one the instance named when its sign-in began. A reload that pointed
// the instance elsewhere while the plugin asked the provider had bound them to
// the new provider, which a refresh then sent them to.
func (k *Keeper) PutFor(ctx context.Context, instance, userID, provider string, tokens *sdk.TokenSet) error {
	rec, err := k.Vault.SealFor(instance, userID, Binding{Provider: provider, Kept: k.keptNow(instance)}, tokens)
	if err != nil {
		return err
	}
	err = k.Tokens.PutTokens(ctx, rec)
	k.op("store", err)
	return err
}

// Read returns the user's token set, refreshed first when it expires within
// Margin. store.ErrNotFound when there is none; RefusedRefresh's error when the
// provider refused a refresh; an *OpenError when the record does not open.
func (k *Keeper) Read(ctx context.Context, instance, userID string) (*sdk.TokenSet, error) {
	rec, err := k.Tokens.Tokens(ctx, instance, userID)
	k.op("read", err)
	if err != nil {
		return nil, err
	}
	if rec.RefreshFailed {
		return nil, RefusedRefresh()
	}
	tokens, _, rebind, err := k.openFor(rec)
	switch {
	case err != nil:
		return nil, err
	case k.needsRefresh(tokens):
		return k.refresh(ctx, instance, userID) // its write binds the record
	case rebind:
		k.bind(ctx, instance, userID)
	}
	return tokens, nil
}

// refresh renews a record's tokens. The callers of this process that want the
// same record share one update: without that, each would take the record's lock
// in turn for a transaction of its own, and the last of many callers (48 over 3
// replicas) waited out the store's lock deadline behind the others on a busy
// machine, and got store_unavailable while the store was up. Across replicas,
// the record's lock in the store makes the others wait, then read what the one
// refresh stored.
//
// The shared update runs detached from the callers' contexts, bounded by the
// store's lock deadline and the connector's call timeout: a caller that goes
// away neither fails the others nor rolls back a refresh the provider already
// made (a rotated refresh token is single-use, so losing the new one would end
// the grant).
func (k *Keeper) refresh(ctx context.Context, instance, userID string) (*sdk.TokenSet, error) {
	key := instance + "\x00" + userID
	ch := k.flights.DoChan(key, func() (_ any, err error) {
		// singleflight raises a panic of DoChan's function again on a
		// goroutine of its own, where nothing can recover it: one
		// connector's fault would end the process and every connector's
		// sign-ins. It ends this refresh instead.
		defer func() {
			if v := recover(); v != nil {
				err = &sdk.Error{Code: sdk.CodeGeneral, Message: fmt.Sprintf("refreshing the tokens of %s failed: %v", instance, v)}
			}
		}()
		return k.update(context.WithoutCancel(ctx), instance, userID)
	})
	if k.arrived != nil {
		k.arrived()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		tokens := *res.Val.(*sdk.TokenSet) // a copy each: callers may change theirs
		return &tokens, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// update renews a record's tokens holding its lock, so that of every caller on
// every replica asking at once, one refreshes and the others read what it stored.
func (k *Keeper) update(ctx context.Context, instance, userID string) (*sdk.TokenSet, error) {
	var out *sdk.TokenSet
	err := k.Tokens.UpdateTokens(ctx, instance, userID, func(rec store.TokenRecord) (*store.TokenRecord, error) {
		if rec.RefreshFailed {
			return nil, RefusedRefresh()
		}
		tokens, b, _, err := k.openFor(rec)
		if err != nil {
			return nil, err
		}
		provider := b.Provider
		if !k.needsRefresh(tokens) {
			out = tokens // another caller refreshed while this one waited
			return nil, nil
		}
		fresh, err := k.Refresh(ctx, instance, provider, tokens.RefreshToken)
		if err == nil && fresh == nil {
			err = &sdk.Error{Code: sdk.CodeInvalidResponse, Message: "the connector's refresh gave no tokens"}
		}
		if err != nil {
			if refusedByProvider(err) {
				k.refreshed("refused")
				rec.RefreshFailed = true
				return &rec, RefusedRefresh()
			}
			k.refreshed("failed")
			return nil, err
		}
		if err := sameSubject(tokens.IDToken, fresh.IDToken); err != nil {
			// Another user's tokens are not kept under this one's id, and the
			// old refresh token may be spent: the grant ends here.
			k.refreshed("refused")
			rec.RefreshFailed = true
			return &rec, err
		}
		k.refreshed("ok")
		if fresh.RefreshToken == "" { // not rotated: the old one stays good
			fresh.RefreshToken = tokens.RefreshToken
		}
		if fresh.IDToken == "" { // not reissued: the sign-in's stays, to compare the next one with
			fresh.IDToken = tokens.IDToken
		}
		if fresh.ExpiresAt.IsZero() && !tokens.ExpiresAt.IsZero() {
			// The provider gave the new token no lifetime (expires_in
			// absent, 0, negative or unreadable), though the last one had
			// one: kept without an expiry, it would never be refreshed
			// again, and reads would hand out a dead token until the user
			// signed in anew. It gets the last one's lifetime, and at
			// least twice the margin: a record rewritten since it was
			// stored (a rekey) seems to have lived shorter than it did,
			// and under the margin every read would refresh.
			fresh.ExpiresAt = time.Now().Add(max(lastLifetime(rec, tokens), 2*k.Margin))
		}
		next, err := k.Vault.SealFor(instance, userID, b, fresh)
		if err != nil {
			return nil, err
		}
		out = fresh
		return &next, nil
	})
	k.op("refresh", err)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the user's record and returns its token set, for revocation at
// the provider, and the provider they were kept for (to revoke them only while
// the instance names it). The record is gone even when its tokens do not open
// (then the error is an *OpenError) or were kept for another provider (an
// *OtherProviderError: they are not the instance's to revoke);
// store.ErrNotFound when there was none.
func (k *Keeper) Delete(ctx context.Context, instance, userID string) (*sdk.TokenSet, string, error) {
	rec, err := k.Tokens.DeleteTokens(ctx, instance, userID)
	k.op("delete", err)
	if err != nil {
		return nil, "", err
	}
	tokens, b, _, err := k.openFor(rec)
	return tokens, b.Provider, err
}

// bind writes the binding into a record that has none yet (kept before
// bindings, or by its plugin before it named its provider), at its first read:
// a record that is never refreshed (tokens without expiry, say) would otherwise
// stay unbound, and open as the next provider's once the instance is pointed
// elsewhere. A failure leaves that to the next read.
func (k *Keeper) bind(ctx context.Context, instance, userID string) {
	_ = k.Tokens.UpdateTokens(ctx, instance, userID, func(rec store.TokenRecord) (*store.TokenRecord, error) {
		tokens, b, rebind, err := k.openFor(rec)
		if err != nil || !rebind {
			return nil, nil // changed meanwhile: nothing to bind
		}
		next, err := k.Vault.SealFor(instance, userID, b, tokens)
		if err != nil {
			return nil, err
		}
		next.ExpiresAt, next.RefreshFailed = rec.ExpiresAt, rec.RefreshFailed
		return &next, nil
	})
}

// keptNow is the Kept time of a record instance keeps now: after its last
// removal, even within the millisecond of it or behind the clock of the
// replica that recorded it, as a browser session's sign-in time is (a
// sign-in once the connector is back must keep tokens that serve).
func (k *Keeper) keptNow(instance string) int64 {
	now := time.Now().UnixMilli()
	if k.RemovedAt != nil {
		if at, ok := k.RemovedAt(instance); ok && now <= at {
			return at + 1
		}
	}
	return now
}

// openFor opens a record and checks it was kept for the provider its instance
// names now, and since the instance was last removed. It returns the binding
// to seal the record's next tokens with: the provider named now, and when the
// record's sign-in was. A record kept before bindings existed names no
// provider, and one kept by the same plugin before it named its provider
// names the plugin only: both open, and rebind says the record should now be
// bound.
func (k *Keeper) openFor(rec store.TokenRecord) (tokens *sdk.TokenSet, b Binding, rebind bool, err error) {
	tokens, kept, err := k.Vault.OpenFor(rec)
	if err != nil {
		return nil, Binding{}, false, &OpenError{err}
	}
	kept = kept.keptBy(rec)
	if k.RemovedAt != nil {
		if at, ok := k.RemovedAt(rec.Connector); ok && kept.Kept <= at {
			return nil, Binding{}, false, &OtherProviderError{Instance: rec.Connector, UserID: rec.UserID, Removed: true}
		}
	}
	now, err := k.provider(rec.Connector)
	if err != nil {
		return nil, Binding{}, false, err
	}
	b = Binding{Provider: now, Kept: kept.Kept}
	switch {
	case kept.Provider == now:
		return tokens, b, false, nil
	case kept.Provider == "", strings.HasSuffix(kept.Provider, "\n") && strings.HasPrefix(now, kept.Provider):
		return tokens, b, true, nil
	}
	return nil, Binding{}, false, &OtherProviderError{Instance: rec.Connector, UserID: rec.UserID}
}

func (k *Keeper) provider(instance string) (string, error) {
	if k.Provider == nil {
		return "", nil
	}
	return k.Provider(instance)
}

// lastLifetime is how long the token set of rec lived, from when it was
// stored (or last rewritten) to its expiry; an hour when that cannot be told
// (a record stored before its time was, an expiry past a day).
func lastLifetime(rec store.TokenRecord, t *sdk.TokenSet) time.Duration {
	life := t.ExpiresAt.Sub(rec.UpdatedAt)
	if rec.UpdatedAt.IsZero() || life <= 0 || life > 24*time.Hour {
		return time.Hour
	}
	return life
}

func (k *Keeper) needsRefresh(t *sdk.TokenSet) bool {
	return t.RefreshToken != "" && !t.ExpiresAt.IsZero() && time.Until(t.ExpiresAt) < k.Margin
}

// refusedByProvider tells a refresh the provider refused (the grant is gone)
// from one that failed on the way (worth a retry).
func refusedByProvider(err error) bool {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case sdk.CodeSocialAccessTokenInvalid, sdk.CodeSocialAuthCodeInvalid, sdk.CodeAuthorizationFailed:
		return true
	}
	return false
}

func (k *Keeper) op(op string, err error) {
	if k.OnOp != nil {
		k.OnOp(op, err)
	}
}

func (k *Keeper) refreshed(result string) {
	if k.OnRefresh != nil {
		k.OnRefresh(result)
	}
}
