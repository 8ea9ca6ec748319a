package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestFailureLimiterBlocksAfterTooManyAndForgets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(3, time.Minute, 100)
	l.now = func() time.Time { return now }
	for range 3 {
		if _, blocked := l.Blocked("10.0.0.1"); blocked {
			t.Fatal("blocked before the limit")
		}
		l.Fail("10.0.0.1")
	}
	wait, blocked := l.Blocked("10.0.0.1")
	if !blocked || wait != time.Minute {
		t.Fatalf("after 3 failures: blocked %v for %v", blocked, wait)
	}
	if _, blocked := l.Blocked("10.0.0.2"); blocked {
		t.Fatal("another address is blocked too")
	}
	now = now.Add(time.Minute)
	if _, blocked := l.Blocked("10.0.0.1"); blocked {
		t.Fatal("still blocked after the window")
	}
}

func TestFailureLimiterMemoryIsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(3, time.Minute, 50)
	l.now = func() time.Time { return now }
	// A spread-out attack: each address guesses once.
	for i := range 10000 {
		l.Fail("addr-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if n := l.Tracked(); n > 50 {
		t.Fatalf("%d addresses tracked, the cap is 50", n)
	}
	// Addresses past the cap are not counted, and never refused: one attacker
	// with many addresses cannot lock every new client out.
	for range 10 {
		l.Fail("one-more")
	}
	if _, blocked := l.Blocked("one-more"); blocked {
		t.Fatal("an address past the cap is refused")
	}
	if _, blocked := l.Blocked("honest"); blocked {
		t.Fatal("an address that never failed is refused")
	}
	// Those tracked are still refused past their failures.
	for range 3 {
		l.Fail("addr-a0s")
	}
	if _, blocked := l.Blocked("addr-a0s"); !blocked {
		t.Fatal("a tracked address is not refused past its failures")
	}
	// Once the windows are over, the table is swept and addresses get their own again.
	now = now.Add(2 * time.Minute)
	l.Fail("fresh")
	if _, blocked := l.Blocked("fresh"); blocked || l.Tracked() != 1 {
		t.Fatalf("after the sweep: tracked %d", l.Tracked())
	}
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:51234":                "192.0.2.7",
		"[::ffff:192.0.2.7]:1":           "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb:cc::9]:1000": "2001:db8:1:2::/64",
		"@":                              "@",
	} {
		if got := ClientAddr(in); got != want {
			t.Errorf("ClientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
