package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	oldKey = []byte("old-secret-0123456789abcdef-0123456789")
	newKey = []byte("new-secret-0123456789abcdef-0123456789")
	t0     = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func newSealer(t testing.TB, keys ...[]byte) *Sealer {
	t.Helper()
	s, err := New(keys)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mustSeal(t testing.TB, s *Sealer, purpose string, payload []byte) string {
	t.Helper()
	tok, err := s.Seal(purpose, payload, time.Minute)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return tok
}

func TestRoundTrip(t *testing.T) {
	s := newSealer(t, newKey)
	for _, payload := range [][]byte{
		nil,
		[]byte("x"),
		[]byte(`{"state":"abc","redirectUri":"https://app.example/cb","codeVerifier":"v"}`),
		bytes.Repeat([]byte{0, 0xff}, 1000),
		bytes.Repeat([]byte("p"), MaxPayloadLen),
	} {
		tok := mustSeal(t, s, "authz:acme", payload)
		if len(tok) > MaxTokenLen {
			t.Errorf("token of %d characters for a %d-byte payload", len(tok), len(payload))
		}
		got, err := s.Open("authz:acme", tok)
		if err != nil {
			t.Fatalf("Open(%d-byte payload): %v", len(payload), err)
		}
		if !bytes.Equal(got, payload) {
			t.Errorf("Open = %q, want %q", got, payload)
		}
	}
}

func TestTokenFormat(t *testing.T) {
	s := newSealer(t, newKey)
	a := mustSeal(t, s, "p", []byte("same"))
	b := mustSeal(t, s, "p", []byte("same"))
	if a == b {
		t.Error("two seals of one payload are equal; nonces must be random")
	}
	if strings.ContainsAny(a, "+/=") {
		t.Errorf("token %q is not unpadded base64url", a)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil {
		t.Fatal(err)
	}
	if raw[0] != 1 || !bytes.Equal(raw[1:5], s.keys[0].id[:]) {
		t.Errorf("header = % x, want version 1 and key id % x", raw[:5], s.keys[0].id)
	}
	if bytes.Contains(raw, []byte("same")) {
		t.Error("payload visible in the token")
	}
	if len(raw) != minRawLen+len("same") {
		t.Errorf("token is %d bytes, want %d", len(raw), minRawLen+4)
	}
}

func TestKeyIDsDiffer(t *testing.T) {
	a, b := newSealer(t, oldKey), newSealer(t, newKey)
	if a.keys[0].id == b.keys[0].id {
		t.Error("two keys derived the same id")
	}
}

func TestRotation(t *testing.T) {
	before := newSealer(t, oldKey)
	oldTok := mustSeal(t, before, "user-session", []byte("old"))

	during := newSealer(t, newKey, oldKey)
	if got, err := during.Open("user-session", oldTok); err != nil || string(got) != "old" {
		t.Errorf("token of the old key after rotation: %q, %v", got, err)
	}
	newTok := mustSeal(t, during, "user-session", []byte("new"))
	if _, err := before.Open("user-session", newTok); !errors.Is(err, ErrInvalid) {
		t.Errorf("the new key sealed nothing before rotation, yet: %v", err)
	}

	after := newSealer(t, newKey)
	if got, err := after.Open("user-session", newTok); err != nil || string(got) != "new" {
		t.Errorf("token of the new key: %q, %v", got, err)
	}
	if _, err := after.Open("user-session", oldTok); !errors.Is(err, ErrInvalid) {
		t.Errorf("token of a removed key: %v, want ErrInvalid", err)
	}
}

func TestTamperedTokens(t *testing.T) {
	s := newSealer(t, newKey)
	tok := mustSeal(t, s, "authz:acme", []byte(`{"state":"s"}`))
	raw, _ := base64.RawURLEncoding.DecodeString(tok)

	for i := range raw {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(raw)
			bad[i] ^= flip
			_, err := s.Open("authz:acme", base64.RawURLEncoding.EncodeToString(bad))
			want := ErrInvalid
			if i == 0 {
				want = ErrMalformed // the version byte
			}
			if !errors.Is(err, want) {
				t.Fatalf("byte %d ^ %#x: %v, want %v", i, flip, err, want)
			}
		}
	}

	// Changing any character of the text never yields a payload.
	for i := range len(tok) {
		for _, c := range []byte{'A', 'z', '-', '_', '0', '=', '.', '\n'} {
			if tok[i] == c {
				continue
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			_, err := s.Open("authz:acme", bad)
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("char %d -> %q: %v", i, c, err)
			}
		}
	}

	// Truncated and extended tokens.
	for n := range len(tok) {
		if _, err := s.Open("authz:acme", tok[:n]); err == nil {
			t.Fatalf("token cut to %d characters opened", n)
		}
	}
	if _, err := s.Open("authz:acme", tok+"AAAA"); !errors.Is(err, ErrInvalid) {
		t.Errorf("extended token: %v", err)
	}
	if _, err := s.Open("authz:acme", tok+"\n"); !errors.Is(err, ErrMalformed) {
		t.Errorf("token with a line break: %v", err)
	}
}

func TestPurposeBinding(t *testing.T) {
	s := newSealer(t, newKey)
	tok := mustSeal(t, s, "authz:acme", []byte("x"))
	for _, p := range []string{"authz:other", "authz:acm", "authz:acme ", "user-session", "AUTHZ:ACME", ""} {
		if _, err := s.Open(p, tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", p, err)
		}
	}
	if _, err := s.Open("authz:acme", tok); err != nil {
		t.Errorf("Open with the right purpose: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	c := &clock{now: t0}
	s, err := New([][]byte{newKey}, WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Seal("p", []byte("x"), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(10*time.Minute - time.Millisecond))
	if _, err := s.Open("p", tok); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	c.Set(t0.Add(10 * time.Minute))
	_, err = s.Open("p", tok)
	if !errors.Is(err, ErrExpired) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrMalformed) {
		t.Errorf("at expiry: %v, want only ErrExpired", err)
	}
	if !strings.Contains(err.Error(), "2026-05-01T12:10:00Z") {
		t.Errorf("error %q does not say when", err)
	}
	// An expired token sealed for another purpose is invalid, not expired:
	// nothing about a token is trusted before it authenticates.
	if _, err := s.Open("q", tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("expired token, wrong purpose: %v", err)
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	tests := []struct {
		name string
		keys [][]byte
		want string
	}{
		{"no keys", nil, "seal: no keys given"},
		{"empty list", [][]byte{}, "seal: no keys given"},
		{"short first key", [][]byte{[]byte("short-secret")}, "seal: key 0 is 12 bytes, needs at least 32"},
		{"short second key", [][]byte{newKey, bytes.Repeat([]byte("k"), 31)}, "seal: key 1 is 31 bytes, needs at least 32"},
		{"empty key", [][]byte{newKey, nil}, "seal: key 1 is 0 bytes, needs at least 32"},
	}
	for _, tt := range tests {
		s, err := New(tt.keys)
		if s != nil || err == nil || err.Error() != tt.want {
			t.Errorf("%s: New = %v, %v; want error %q", tt.name, s, err, tt.want)
		}
	}
	if _, err := New([][]byte{bytes.Repeat([]byte{0}, 32)}); err != nil {
		t.Errorf("32-byte key refused: %v", err)
	}
}

func TestKeysAreCopied(t *testing.T) {
	secret := bytes.Clone(newKey)
	s := newSealer(t, secret)
	tok := mustSeal(t, s, "p", []byte("x"))
	for i := range secret {
		secret[i] = 0
	}
	if _, err := s.Open("p", tok); err != nil {
		t.Errorf("changing the caller's key slice broke the Sealer: %v", err)
	}
}

func TestSealRefuses(t *testing.T) {
	s := newSealer(t, newKey)
	if _, err := s.Seal("", []byte("x"), time.Minute); err == nil {
		t.Error("empty purpose accepted")
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := s.Seal("p", []byte("x"), ttl); err == nil {
			t.Errorf("ttl %v accepted", ttl)
		}
	}
	if _, err := s.Seal("p", make([]byte, MaxPayloadLen+1), time.Minute); err == nil {
		t.Error("oversize payload accepted")
	}
}

func TestMalformed(t *testing.T) {
	s := newSealer(t, newKey)
	valid := mustSeal(t, s, "p", []byte("x"))
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	v2 := bytes.Clone(raw)
	v2[0] = 2
	tests := map[string]string{
		"empty":           "",
		"not base64":      "!!!!",
		"padded":          valid + "==",
		"std alphabet":    strings.Repeat("+/", 40),
		"space":           valid[:10] + " " + valid[10:],
		"too short":       base64.RawURLEncoding.EncodeToString(raw[:minRawLen-1]),
		"unknown version": base64.RawURLEncoding.EncodeToString(v2),
		"oversize":        strings.Repeat("A", MaxTokenLen+1),
		"impossible len":  "A",
	}
	for name, tok := range tests {
		_, err := s.Open("p", tok)
		if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired) {
			t.Errorf("%s: %v, want only ErrMalformed", name, err)
		}
	}
}

// Only the canonical spelling of a token opens: changing the unused low bits
// of the last character is refused rather than decoded to the same bytes.
func TestNonCanonicalEncoding(t *testing.T) {
	s := newSealer(t, newKey)
	tok := mustSeal(t, s, "p", []byte("xy")) // 43 bytes: the last character carries unused bits
	if len(tok)%4 == 0 {
		t.Fatalf("token length %d leaves no unused bits", len(tok))
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	bad := tok[:len(tok)-1] + string(alphabet[last^1])
	if _, err := s.Open("p", bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("non-canonical token: %v, want ErrMalformed", err)
	}
}

func TestErrorsDoNotEchoTheToken(t *testing.T) {
	c := &clock{now: t0}
	s, _ := New([][]byte{newKey}, WithClock(c.Now))
	tok := mustSeal(t, s, "p", []byte("x"))
	c.Set(t0.Add(time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	raw[len(raw)-1] ^= 1
	for _, in := range []string{tok, tok[:20], base64.RawURLEncoding.EncodeToString(raw), "secret-looking-garbage!", strings.Repeat("Z", MaxTokenLen+1)} {
		_, err := s.Open("p", in)
		if err == nil {
			t.Fatalf("%q opened", in)
		}
		if len(in) >= 8 && strings.Contains(err.Error(), in[:8]) {
			t.Errorf("error %q echoes the token", err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newSealer(t, newKey, oldKey)
	old := mustSeal(t, newSealer(t, oldKey), "p", []byte("old"))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				payload := fmt.Appendf(nil, "%d-%d", g, i)
				tok, err := s.Seal("p", payload, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				got, err := s.Open("p", tok)
				if err != nil || !bytes.Equal(got, payload) {
					errs <- fmt.Errorf("round trip %s: %q, %v", payload, got, err)
					return
				}
				if got, err := s.Open("p", old); err != nil || string(got) != "old" {
					errs <- fmt.Errorf("old token: %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkSealOpen(b *testing.B) {
	s := newSealer(b, newKey, oldKey)
	payload := []byte(`{"state":"0123456789abcdef","redirectUri":"https://app.example.com/callback/acme","codeVerifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		tok, err := s.Seal("authz:acme", payload, 10*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open("authz:acme", tok); err != nil {
			b.Fatal(err)
		}
	}
}
