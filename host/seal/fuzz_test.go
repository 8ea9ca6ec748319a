package seal

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzOpen checks that Open never panics and only ever returns a payload or
// one of its three errors.
func FuzzOpen(f *testing.F) {
	c := &clock{now: t0}
	s, err := New([][]byte{newKey, oldKey}, WithClock(c.Now))
	if err != nil {
		f.Fatal(err)
	}
	old, _ := New([][]byte{oldKey}, WithClock(c.Now))
	valid, _ := s.Seal("p", []byte("payload"), time.Minute)
	empty, _ := s.Seal("p", nil, time.Minute)
	byOld, _ := old.Seal("p", []byte("old"), time.Minute)
	expired, _ := s.Seal("p", []byte("x"), time.Millisecond)
	otherPurpose, _ := s.Seal("q", []byte("x"), time.Minute)
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	c.Set(t0.Add(time.Second))

	for _, seed := range []string{
		valid, empty, byOld, expired, otherPurpose,
		valid[:len(valid)-1], valid[:10], valid + "A",
		base64.RawURLEncoding.EncodeToString(raw[:minRawLen]),
		"", "A", "AB", "====", "not a token", strings.Repeat("_", 100), "\x00\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		got, err := s.Open("p", token)
		switch {
		case err == nil:
			if got == nil {
				t.Fatalf("nil payload without error")
			}
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrInvalid), errors.Is(err, ErrExpired):
			if got != nil {
				t.Fatalf("payload returned with error %v", err)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
