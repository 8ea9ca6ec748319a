package vault_test

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/vault"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/idplug/idplug/sdk"
)

// provider stands in for a connector's refresh: it counts calls, and answers
// with fresh tokens, a refusal or a failure on the way.
type provider struct {
	calls  atomic.Int32
	answer func(n int32, refreshToken string) (*sdk.TokenSet, error)
	// sentFor is the provider the last refresh was asked to send its token to.
	sentFor atomic.Pointer[string]
}

func (p *provider) refresh(_ context.Context, instance, sentFor, refreshToken string) (*sdk.TokenSet, error) {
	n := p.calls.Add(1)
	p.sentFor.Store(&sentFor)
	return p.answer(n, refreshToken)
}

func rotating(n int32, _ string) (*sdk.TokenSet, error) {
	return &sdk.TokenSet{AccessToken: "at-" + string(rune('0'+n)), RefreshToken: "rt-" + string(rune('0'+n)), ExpiresAt: time.Now().Add(time.Hour)}, nil
}

// stores opens a fresh database of each kind, with two handles on it, as two
// replicas would have.
func stores(t *testing.T) map[string][2]store.Store {
	open := func(t *testing.T, url string) store.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := store.Open(ctx, url, store.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		s = store.Timed(s, 5*time.Second, 10*time.Second, nil)
		t.Cleanup(func() { s.Close() })
		return s
	}
	sqlite := "sqlite:" + filepath.Join(t.TempDir(), "idplug.db")
	out := map[string][2]store.Store{"sqlite": {open(t, sqlite), open(t, sqlite)}}
	if !testing.Short() {
		pg := pgtest.Start(t)
		out["postgres"] = [2]store.Store{open(t, pg.URL), open(t, pg.URL)}
	}
	return out
}

func keeper(t *testing.T, st store.Store, p *provider) *vault.Keeper {
	v, err := vault.New([][]byte{keyA})
	if err != nil {
		t.Fatal(err)
	}
	return &vault.Keeper{Vault: v, Tokens: st, Refresh: p.refresh, Margin: time.Minute}
}

func TestKeeper(t *testing.T) {
	for name, pair := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("fresh tokens are read as stored", func(t *testing.T) { testFresh(t, pair[0]) })
			t.Run("expiring tokens are refreshed, the rotated refresh token kept", func(t *testing.T) { testRefresh(t, pair[0]) })
			t.Run("a refresh token the provider did not rotate stays", func(t *testing.T) { testNotRotated(t, pair[0]) })
			t.Run("a refresh answered without a lifetime is refreshed again", func(t *testing.T) { testNoLifetime(t, pair[0]) })
			t.Run("a refused refresh ends the record for good", func(t *testing.T) { testRefused(t, pair[0]) })
			t.Run("a refresh that failed on the way is tried again", func(t *testing.T) { testFailed(t, pair[0]) })
			t.Run("a refresh that gives nothing or panics fails that read alone", func(t *testing.T) { testNothingOrPanic(t, pair[0]) })
			t.Run("callers at once on two replicas refresh once", func(t *testing.T) { testOneRefresh(t, pair[0], pair[1]) })
			t.Run("callers on one replica share one locked update", func(t *testing.T) { testSharedUpdate(t, pair[0], pair[1]) })
			t.Run("a caller that leaves does not undo the refresh", func(t *testing.T) { testCallerLeaves(t, pair[0]) })
			t.Run("delete hands back the tokens to revoke", func(t *testing.T) { testDelete(t, pair[0]) })
			t.Run("a refresh for another subject is not kept", func(t *testing.T) { testOtherSubject(t, pair[0]) })
			t.Run("tokens kept for another provider are not used", func(t *testing.T) { testOtherProvider(t, pair[0]) })
		})
	}
}

func testFresh(t *testing.T, st store.Store) {
	p := &provider{answer: rotating}
	k := keeper(t, st, p)
	ctx := t.Context()
	if _, err := k.Read(ctx, "acme", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Read of no record: %v, want store.ErrNotFound", err)
	}
	in := &sdk.TokenSet{AccessToken: "at", RefreshToken: "rt", ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Millisecond)}
	if err := k.Put(ctx, "acme", "fresh", in); err != nil {
		t.Fatal(err)
	}
	got, err := k.Read(ctx, "acme", "fresh")
	if err != nil || got.AccessToken != "at" || got.RefreshToken != "rt" || p.calls.Load() != 0 {
		t.Fatalf("Read = %+v, %v after %d refreshes; want the stored tokens and none", got, err, p.calls.Load())
	}
}

func testRefresh(t *testing.T, st store.Store) {
	p := &provider{answer: rotating}
	k := keeper(t, st, p)
	ctx := t.Context()
	if err := k.Put(ctx, "acme", "expiring", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt-old", ExpiresAt: time.Now().Add(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	got, err := k.Read(ctx, "acme", "expiring")
	if err != nil || got.AccessToken != "at-1" || got.RefreshToken != "rt-1" {
		t.Fatalf("Read = %+v, %v; want the refreshed tokens", got, err)
	}
	// The rotated token was stored: the next read is fresh and refreshes nothing.
	again, err := k.Read(ctx, "acme", "expiring")
	if err != nil || again.RefreshToken != "rt-1" || p.calls.Load() != 1 {
		t.Fatalf("second Read = %+v, %v after %d refreshes", again, err, p.calls.Load())
	}
}

func testNotRotated(t *testing.T, st store.Store) {
	p := &provider{answer: func(int32, string) (*sdk.TokenSet, error) {
		return &sdk.TokenSet{AccessToken: "new", ExpiresAt: time.Now().Add(time.Hour)}, nil
	}}
	k := keeper(t, st, p)
	ctx := t.Context()
	if err := k.Put(ctx, "acme", "kept", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt-kept", ExpiresAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	got, err := k.Read(ctx, "acme", "kept")
	if err != nil || got.AccessToken != "new" || got.RefreshToken != "rt-kept" {
		t.Fatalf("Read = %+v, %v; want the new access token and the old refresh token", got, err)
	}
}

// A provider whose refresh answer gives no lifetime (expires_in absent, 0,
// -1 or "abc", all read as none): the record had lost its expiry, and was
// never refreshed again; reads handed out the dead token. It keeps the last
// token's lifetime, and at least twice the margin, so that it is refreshed
// again, and not at every read.
func testNoLifetime(t *testing.T, st store.Store) {
	p := &provider{answer: func(int32, string) (*sdk.TokenSet, error) {
		return &sdk.TokenSet{AccessToken: "no-lifetime", RefreshToken: "rt-1"}, nil
	}}
	k := keeper(t, st, p)
	ctx := t.Context()
	// Stored now with 30 s to live: its lifetime was 30 s, under the margin.
	if err := k.Put(ctx, "acme", "ageless", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt-old", ExpiresAt: time.Now().Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	got, err := k.Read(ctx, "acme", "ageless")
	if err != nil || got.AccessToken != "no-lifetime" {
		t.Fatalf("Read = %+v, %v; want the refreshed token", got, err)
	}
	want := 2 * k.Margin
	if left := time.Until(got.ExpiresAt); got.ExpiresAt.IsZero() || left > want || left < want-10*time.Second {
		t.Fatalf("the refreshed token expires in %v; want about %v", time.Until(got.ExpiresAt), want)
	}
	if _, err := k.Read(ctx, "acme", "ageless"); err != nil || p.calls.Load() != 1 {
		t.Fatalf("a read after the refresh: %v after %d refreshes; want it fresh", err, p.calls.Load())
	}
}

func TestLastLifetime(t *testing.T) {
	stored := time.Now().Add(-2 * time.Hour)
	for _, c := range []struct {
		name    string
		updated time.Time
		expires time.Time
		want    time.Duration
	}{
		{"two hours", stored, stored.Add(2 * time.Hour), 2 * time.Hour},
		{"a minute", stored, stored.Add(time.Minute), time.Minute},
		{"no time of storing", time.Time{}, stored, time.Hour},
		{"expired before it was stored", stored, stored.Add(-time.Second), time.Hour},
		{"past a day", stored, stored.Add(48 * time.Hour), time.Hour},
	} {
		got := vault.LastLifetime(store.TokenRecord{UpdatedAt: c.updated}, &sdk.TokenSet{ExpiresAt: c.expires})
		if got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func testRefused(t *testing.T, st store.Store) {
	p := &provider{answer: func(int32, string) (*sdk.TokenSet, error) {
		return nil, &sdk.Error{Code: sdk.CodeSocialAccessTokenInvalid, Message: "invalid_grant"}
	}}
	k := keeper(t, st, p)
	ctx := t.Context()
	if err := k.Put(ctx, "acme", "revoked", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt", ExpiresAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		_, err := k.Read(ctx, "acme", "revoked")
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeSocialAccessTokenInvalid {
			t.Fatalf("read %d: %v, want %s", i+1, err, sdk.CodeSocialAccessTokenInvalid)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("the provider was asked %d times; a refused grant must not be tried again", n)
	}
	// A new sign-in replaces the record, and with it the mark.
	if err := k.Put(ctx, "acme", "revoked", &sdk.TokenSet{AccessToken: "signed-in-again", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Read(ctx, "acme", "revoked"); err != nil || got.AccessToken != "signed-in-again" {
		t.Fatalf("after a new sign-in: %+v, %v", got, err)
	}
}

func testFailed(t *testing.T, st store.Store) {
	p := &provider{answer: func(n int32, rt string) (*sdk.TokenSet, error) {
		if n == 1 {
			return nil, &sdk.Error{Code: sdk.CodeProviderTimeout, Message: "the provider did not answer"}
		}
		return rotating(n, rt)
	}}
	k := keeper(t, st, p)
	ctx := t.Context()
	if err := k.Put(ctx, "acme", "flaky", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt", ExpiresAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var e *sdk.Error
	if _, err := k.Read(ctx, "acme", "flaky"); !errors.As(err, &e) || e.Code != sdk.CodeProviderTimeout {
		t.Fatalf("first read: %v, want the provider's timeout", err)
	}
	if got, err := k.Read(ctx, "acme", "flaky"); err != nil || got.AccessToken != "at-2" {
		t.Fatalf("second read: %+v, %v; want a refresh that worked", got, err)
	}
}

// A refresh that answers neither tokens nor an error, or panics, fails the
// read and keeps the record: the shared update runs where singleflight raises
// a panic again past any recover, and a nil token set had been read through,
// so one connector's answer ended idplug's process.
func testNothingOrPanic(t *testing.T, st store.Store) {
	p := &provider{answer: func(n int32, rt string) (*sdk.TokenSet, error) {
		switch n {
		case 1:
			return nil, nil
		case 2:
			panic("a connector's fault")
		}
		return rotating(n, rt)
	}}
	k := keeper(t, st, p)
	ctx := t.Context()
	if err := k.Put(ctx, "acme", "odd", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt", ExpiresAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var e *sdk.Error
	if _, err := k.Read(ctx, "acme", "odd"); !errors.As(err, &e) || e.Code != sdk.CodeInvalidResponse {
		t.Fatalf("a refresh of no tokens: %v, want invalid_response", err)
	}
	if _, err := k.Read(ctx, "acme", "odd"); !errors.As(err, &e) || !strings.Contains(err.Error(), "a connector's fault") {
		t.Fatalf("a refresh that panicked: %v, want its error", err)
	}
	if got, err := k.Read(ctx, "acme", "odd"); err != nil || got.AccessToken != "at-3" {
		t.Fatalf("third read: %+v, %v; want a refresh that worked", got, err)
	}
}

func testOneRefresh(t *testing.T, a, b store.Store) {
	entered, release := make(chan struct{}), make(chan struct{})
	p := &provider{answer: func(n int32, rt string) (*sdk.TokenSet, error) {
		if n == 1 {
			close(entered)
			<-release // the record stays locked while the provider answers
		}
		return rotating(n, rt)
	}}
	ka, kb := keeper(t, a, p), keeper(t, b, p)
	ctx := t.Context()
	if err := ka.Put(ctx, "acme", "busy", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt", ExpiresAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		tok, err := ka.Read(ctx, "acme", "busy")
		if err == nil && tok.AccessToken != "at-1" {
			err = errors.New("got " + tok.AccessToken)
		}
		first <- err
	}()
	<-entered
	// While the first caller's refresh is at the provider, a caller on the other
	// replica waits for the record; it never reaches the provider itself.
	probe, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := kb.Read(probe, "acme", "busy")
	cancel()
	if err == nil || p.calls.Load() != 1 {
		t.Fatalf("a second caller during the refresh: %v after %d refreshes; want it held until the first is done", err, p.calls.Load())
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("the refreshing caller: %v", err)
	}
	// Afterwards every caller, on either replica, reads what the one refresh stored.
	var wg sync.WaitGroup
	for i := range 8 {
		k := ka
		if i%2 == 1 {
			k = kb
		}
		wg.Go(func() {
			if tok, err := k.Read(ctx, "acme", "busy"); err != nil || tok.AccessToken != "at-1" {
				t.Errorf("caller %d: %+v, %v; want the one refresh's tokens", i, tok, err)
			}
		})
	}
	wg.Wait()
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d refreshes; want 1 (a rotated refresh token is single-use)", n)
	}
}

func testDelete(t *testing.T, st store.Store) {
	p := &provider{answer: rotating}
	k := keeper(t, st, p)
	ctx := t.Context()
	if err := k.Put(ctx, "acme", "gone", &sdk.TokenSet{AccessToken: "at", RefreshToken: "rt"}); err != nil {
		t.Fatal(err)
	}
	tokens, _, err := k.Delete(ctx, "acme", "gone")
	if err != nil || tokens.RefreshToken != "rt" {
		t.Fatalf("Delete = %+v, %v", tokens, err)
	}
	if _, err := k.Read(ctx, "acme", "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read after delete: %v", err)
	}
	// A record sealed under a key no longer configured is deleted all the same,
	// and says it could not be opened.
	if err := k.Put(ctx, "acme", "old-key", &sdk.TokenSet{AccessToken: "at"}); err != nil {
		t.Fatal(err)
	}
	other, err := vault.New([][]byte{keyB})
	if err != nil {
		t.Fatal(err)
	}
	k.Vault = other
	var open *vault.OpenError
	if _, _, err := k.Delete(ctx, "acme", "old-key"); !errors.As(err, &open) || !errors.Is(err, vault.ErrKeyMissing) {
		t.Fatalf("Delete under a dropped key: %v, want an OpenError naming the missing key", err)
	}
	if _, _, err := k.Delete(ctx, "acme", "old-key"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the record stayed: %v", err)
	}
}

// counting counts the locked updates that reach the store.
type counting struct {
	store.Store
	updates atomic.Int32
}

func (c *counting) UpdateTokens(ctx context.Context, connector, userID string, fn func(store.TokenRecord) (*store.TokenRecord, error)) error {
	c.updates.Add(1)
	return c.Store.UpdateTokens(ctx, connector, userID, fn)
}

// testSharedUpdate holds the one refresh at the provider while 16 callers on
// each of two replicas ask for the record. Each replica takes the record's lock
// once, however many of its callers wait: a queue of one transaction per caller
// is what made the last callers of a crowd miss the lock deadline on a busy
// machine, with the store up.
func testSharedUpdate(t *testing.T, a, b store.Store) {
	entered, release := make(chan struct{}), make(chan struct{})
	p := &provider{answer: func(n int32, rt string) (*sdk.TokenSet, error) {
		if n == 1 {
			close(entered)
			<-release
		}
		return rotating(n, rt)
	}}
	ca, cb := &counting{Store: a}, &counting{Store: b}
	ka, kb := keeper(t, ca, p), keeper(t, cb, p)
	var arrived atomic.Int32
	waiting := make(chan struct{}, 64)
	for _, k := range []*vault.Keeper{ka, kb} {
		vault.OnArrive(k, func() { arrived.Add(1); waiting <- struct{}{} })
	}
	ctx := t.Context()
	if err := ka.Put(ctx, "acme", "crowd", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt", ExpiresAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	const perReplica = 16
	results := make(chan string, 2*perReplica)
	var wg sync.WaitGroup
	read := func(k *vault.Keeper) {
		wg.Go(func() {
			tok, err := k.Read(ctx, "acme", "crowd")
			if err != nil {
				t.Errorf("read: %v", err)
				results <- ""
				return
			}
			results <- tok.AccessToken
		})
	}
	read(ka)
	<-entered // the first caller holds the lock, at the provider
	for range perReplica - 1 {
		read(ka)
	}
	for range perReplica {
		read(kb)
	}
	for range 2 * perReplica {
		<-waiting // every caller is in, before the provider answers
	}
	close(release)
	wg.Wait()
	close(results)
	for tok := range results {
		if tok != "at-1" {
			t.Fatalf("a caller got %q; want the one refresh's tokens", tok)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d refreshes at the provider; want 1", n)
	}
	if na, nb := ca.updates.Load(), cb.updates.Load(); na != 1 || nb != 1 {
		t.Errorf("locked updates: %d on replica a, %d on b, for %d callers each; want 1 each", na, nb, perReplica)
	}
}

// testCallerLeaves: the caller whose read started the refresh gives up while
// the provider answers. The rotated tokens are stored all the same, so the
// next caller gets them without spending the old refresh token again.
func testCallerLeaves(t *testing.T, st store.Store) {
	entered, release := make(chan struct{}), make(chan struct{})
	p := &provider{answer: func(n int32, rt string) (*sdk.TokenSet, error) {
		if n == 1 {
			close(entered)
			<-release
		}
		return rotating(n, rt)
	}}
	k := keeper(t, st, p)
	ctx := t.Context()
	if err := k.Put(ctx, "acme", "leaver", &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt", ExpiresAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	leaving, leave := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := k.Read(leaving, "acme", "leaver")
		done <- err
	}()
	<-entered
	leave()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that left: %v, want context.Canceled", err)
	}
	close(release)
	got, err := k.Read(ctx, "acme", "leaver")
	if err != nil || got.AccessToken != "at-1" || got.RefreshToken != "rt-1" {
		t.Fatalf("next read: %+v, %v; want the refresh the first caller started", got, err)
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d refreshes at the provider; want 1", n)
	}
}

// idToken is a compact JWS with the given claims and no real signature: the
// keeper reads claims a connector has verified, it checks no signature.
func idToken(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

// testOtherSubject: a provider whose refresh answers with an ID token of
// another user (a mix-up, or whoever answers in its place) must not have that
// user's tokens kept under this user's id, nor handed to the caller.
func testOtherSubject(t *testing.T, st store.Store) {
	const iss = `"iss":"https://op.example"`
	signIn := &sdk.TokenSet{AccessToken: "old", RefreshToken: "rt", IDToken: idToken(`{` + iss + `,"sub":"alice"}`), ExpiresAt: time.Now()}
	for _, c := range []struct {
		name, idToken string
		kept          bool
	}{
		{"same issuer and subject", idToken(`{` + iss + `,"sub":"alice","iat":2}`), true},
		{"none in the answer: the sign-in's stays", "", true},
		{"another subject", idToken(`{` + iss + `,"sub":"mallory"}`), false},
		{"another issuer", idToken(`{"iss":"https://evil.example","sub":"alice"}`), false},
		{"the subject under another case", idToken(`{` + iss + `,"Sub":"alice"}`), false},
		{"no subject", idToken(`{` + iss + `}`), false},
		{"not a JWS", "opaque", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &provider{answer: func(int32, string) (*sdk.TokenSet, error) {
				return &sdk.TokenSet{AccessToken: "new", RefreshToken: "rt-new", IDToken: c.idToken, ExpiresAt: time.Now().Add(time.Hour)}, nil
			}}
			k := keeper(t, st, p)
			ctx := t.Context()
			user := "alice-" + strings.ReplaceAll(c.name, " ", "-")
			if err := k.Put(ctx, "acme", user, signIn); err != nil {
				t.Fatal(err)
			}
			got, err := k.Read(ctx, "acme", user)
			if c.kept {
				want := c.idToken
				if want == "" {
					want = signIn.IDToken
				}
				if err != nil || got.AccessToken != "new" || got.IDToken != want {
					t.Fatalf("Read = %+v, %v; want the refreshed tokens, ID token %q", got, err, want)
				}
				return
			}
			var e *sdk.Error
			if !errors.As(err, &e) || e.Code != sdk.CodeInvalidResponse || got != nil {
				t.Fatalf("Read = %+v, %v; want invalid_response and no tokens", got, err)
			}
			// The grant is over: no second refresh, and nothing of the answer kept.
			if _, err := k.Read(ctx, "acme", user); !errors.As(err, &e) || e.Code != sdk.CodeSocialAccessTokenInvalid {
				t.Fatalf("second read: %v, want %s", err, sdk.CodeSocialAccessTokenInvalid)
			}
			if n := p.calls.Load(); n != 1 {
				t.Fatalf("%d refreshes, want 1", n)
			}
			rec, err := st.Tokens(ctx, "acme", user)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := k.Vault.Open(rec)
			if err != nil || stored.AccessToken != "old" {
				t.Fatalf("stored %+v, %v; want the sign-in's tokens unchanged", stored, err)
			}
		})
	}
}

// testOtherProvider: the instance now names another provider than the one its
// record was kept for. The record is not handed out, never refreshed (the
// refresh would send its refresh token to the new provider), and Delete
// removes it without handing its tokens back for revocation. A record kept
// before bindings existed opens under any, and is bound at its next write.
func testOtherProvider(t *testing.T, st store.Store) {
	p := &provider{answer: rotating}
	k := keeper(t, st, p)
	now := "oauth2\ntoken_endpoint=https://a.example/token client_id=x"
	k.Provider = func(string) (string, error) { return now, nil }
	ctx := t.Context()
	expiring := &sdk.TokenSet{AccessToken: "at-a", RefreshToken: "rt-a", ExpiresAt: time.Now().Add(10 * time.Second)}
	if err := k.Put(ctx, "acme", "moved", expiring); err != nil {
		t.Fatal(err)
	}
	now = "oauth2\ntoken_endpoint=https://b.example/token client_id=x"
	var other *vault.OtherProviderError
	if _, err := k.Read(ctx, "acme", "moved"); !errors.As(err, &other) {
		t.Fatalf("Read of a record kept for another provider: %v", err)
	}
	if n := p.calls.Load(); n != 0 {
		t.Fatalf("%d refreshes of another provider's tokens", n)
	}
	if tokens, _, err := k.Delete(ctx, "acme", "moved"); !errors.As(err, &other) || tokens != nil {
		t.Fatalf("Delete of a record kept for another provider: %v, %v; want no tokens to revoke", tokens, err)
	}
	if _, err := k.Read(ctx, "acme", "moved"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Read after Delete: %v", err)
	}

	// Kept before bindings (sealed without a provider): read and refreshed
	// under the provider named now, then bound to it.
	legacy, err := k.Vault.Seal("acme", "legacy", expiring)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutTokens(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Read(ctx, "acme", "legacy"); err != nil || got.AccessToken != "at-1" {
		t.Fatalf("Read of a record kept before bindings: %+v, %v", got, err)
	}
	if sent := p.sentFor.Load(); sent == nil || *sent != now {
		t.Fatalf("the refresh was sent for %v, want the provider named now", sent)
	}
	rec, err := st.Tokens(ctx, "acme", "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if _, bound, err := k.Vault.OpenFor(rec); err != nil || bound.Provider != now {
		t.Fatalf("the refreshed record is bound to %+v, %v; want %q", bound, err, now)
	}

	// Kept before bindings and never refreshed (no expiry): bound at its first
	// read, so that it does not open as the next provider's.
	forever, err := k.Vault.Seal("acme", "forever", &sdk.TokenSet{AccessToken: "at-f"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutTokens(ctx, forever); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Read(ctx, "acme", "forever"); err != nil || got.AccessToken != "at-f" {
		t.Fatalf("Read of an unbound record without expiry: %+v, %v", got, err)
	}
	rec, err = st.Tokens(ctx, "acme", "forever")
	if err != nil {
		t.Fatal(err)
	}
	if _, bound, err := k.Vault.OpenFor(rec); err != nil || bound.Provider != now {
		t.Fatalf("after its first read the record is bound to %+v, %v; want %q", bound, err, now)
	}

	// Kept while the plugin named no provider: refused through another
	// plugin (one whose id merely starts with the same letters too), served
	// through the same plugin naming one now, and bound to it.
	pluginOnly, err := k.Vault.SealFor("acme", "upgraded", vault.Binding{Provider: "oauth2\n"}, &sdk.TokenSet{AccessToken: "at-u", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutTokens(ctx, pluginOnly); err != nil {
		t.Fatal(err)
	}
	for _, elsewhere := range []string{"oauth2-fork\ntoken_endpoint=https://b.example/token client_id=x", "oauth2x\n"} {
		now = elsewhere
		if _, err := k.Read(ctx, "acme", "upgraded"); !errors.As(err, &other) {
			t.Fatalf("Read through plugin %q of a record bound to oauth2: %v", strings.SplitN(now, "\n", 2)[0], err)
		}
	}
	now = "oauth2\ntoken_endpoint=https://b.example/token client_id=x"
	if got, err := k.Read(ctx, "acme", "upgraded"); err != nil || got.AccessToken != "at-u" {
		t.Fatalf("Read through the same plugin, now naming its provider: %+v, %v", got, err)
	}
	rec, err = st.Tokens(ctx, "acme", "upgraded")
	if err != nil {
		t.Fatal(err)
	}
	if _, bound, err := k.Vault.OpenFor(rec); err != nil || bound.Provider != now {
		t.Fatalf("the record is bound to %+v, %v; want %q", bound, err, now)
	}
}
