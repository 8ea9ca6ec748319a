package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// Expressions written to hurt the host: each is refused when the
// configuration loads, or stopped at its cost or size limit at the sign-in
// it runs in.

// hostileProfile carries a large string and a large list, as a provider (or
// a user controlling their own profile) may send.
func hostileProfile(t testing.TB) sdk.UserInfo {
	big := make([]int, 50_000)
	for i := range big {
		big[i] = i
	}
	raw, err := json.Marshal(map[string]any{
		"s":     strings.Repeat("a", MaxInputString), // the longest string a mapping reads
		"huge":  strings.Repeat("a", 64<<10),
		"aaa":   strings.Repeat("a", MaxInputString-1) + "b",
		"big":   big,
		"login": "mallory",
		// A pattern of 15.6 KB that compiles, in seconds, to 2.6 million
		// instructions, run over each byte of a string (it matches "").
		"pattern": strings.Repeat("(?:a?){1000}", 1300),
	})
	if err != nil {
		t.Fatal(err)
	}
	return sdk.UserInfo{ID: "42", RawData: raw}
}

// fourThousands compiles to 44,002 instructions.
const fourThousands = "(a*a*a*){1000}(b*b*b*){1000}(c*c*c*){1000}(d*d*d*){1000}"

func TestHostileExpressionsAreRefusedAtLoad(t *testing.T) {
	nestedMacros := "[1]"
	for range 5 {
		nestedMacros = "[1].map(x, " + nestedMacros + ")"
	}
	cases := map[string]struct{ expr, want string }{
		"deep macro recursion":  {nestedMacros, "comprehension exceeds nesting limit"},
		"deep nesting":          {strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), "expression recursion limit exceeded"},
		"deep list nesting":     {strings.Repeat("[", 200) + strings.Repeat("]", 200), "expression recursion limit exceeded"},
		"long expression":       {strings.Repeat("raw.s + ", 1000) + "raw.s", "bytes, more than the limit"},
		"backreference":         {`raw.s.matches("(a+)\\1")`, "invalid matches argument"},
		"lookahead":             {`raw.s.matches("a(?=b)")`, "invalid matches argument"},
		"strings extension":     {`raw.s.replace("a", "aaaa")`, "undeclared reference to 'replace'"},
		"bind (no accumulator)": {`cel.bind(x, raw.s, x + x)`, "undeclared reference"},
		// CEL's own check sees only the s.matches(p) form.
		"backreference, global": {`matches(raw.s, "(a+)\\1")`, "invalid matches argument: error parsing regexp: invalid escape sequence"},
		// 44,000 instructions: no string of 64 bytes matches within the
		// meter's limit, so every sign-in would fail.
		"a literal pattern too large to run":         {"raw.s.matches('" + fourThousands + "')", "the pattern compiles to 44002 instructions"},
		"a literal pattern too large to run, global": {"matches(raw.s, '" + fourThousands + "')", "over the mapping's limit of 100000"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(Spec{Claims: map[string]string{"x": c.expr}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// hostileAtRuntime are expressions that compile and must be stopped when they
// run against hostileProfile.
var hostileAtRuntime = map[string]struct{ expr, want string }{
	// Each + costs the size of both sides: a chain of concatenations of a
	// 16 KiB string is stopped after a few, long before it could reach the
	// megabytes its length promises.
	"repeated concatenation":           {strings.Repeat("raw.s + ", 30) + "raw.s", "stopped"},
	"concatenation in a comprehension": {`raw.big.map(x, raw.s + raw.s).size()`, "stopped"},
	// A comprehension pays for each element it visits.
	"comprehension over a large list": {`raw.big.map(x, x * 2).size()`, "stopped"},
	"nested comprehensions":           {`raw.big.exists(x, raw.big.exists(y, x == y + 1))`, "stopped"},
	"filter over a large list":        {`raw.big.filter(x, x % 2 == 0).size()`, "stopped"},
	// CEL concatenates lists at a constant cost; the meter charges the
	// length of the list made (guard.go), and stops a chain of them.
	"concatenated lists": {strings.Repeat("raw.big + ", 10) + "raw.big", "claims.x: stopped at its cost limit"},
	// References to a list are copied at a constant cost: a list of
	// millions of elements is cheap to CEL. Its size is charged when the
	// result is written, and that stops at MaxResultBytes.
	"copied lists": {`[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(i, raw.big)`, "over 16384 bytes"},
	"large result": {`raw.s + raw.s`, "over 16384 bytes"},
	// A string longer than any a mapping could yield reads as an error.
	"a string over the input limit": {`raw.huge.size()`, "a string of the profile is 65536 bytes, over the mapping's limit of 16384"},
}

func TestHostileExpressionsAreStoppedAtTheirLimits(t *testing.T) {
	u := hostileProfile(t)
	for name, c := range hostileAtRuntime {
		t.Run(name, func(t *testing.T) {
			m := mustCompile(t, Spec{Claims: map[string]string{"x": c.expr}})
			_, err := m.Apply(t.Context(), u)
			if errCode(err) != CodeFailed || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %s with %q", err, CodeFailed, c.want)
			}
		})
	}
}

// outrunning are expressions each of which makes one call that runs for
// seconds, where CEL charges it a few units once it has returned: unguarded,
// each kept its sign-in's mapping busy long past the deadline (which is
// looked at between calls). The meter charges their work before the call
// runs (guard.go), and stops them at its limit instead.
var outrunning = map[string]string{
	// Two lists of 4,096 references to raw.big (50,000 elements), for about
	// 3,400 units of concatenation: comparing them walks 200 million
	// elements.
	"comparing shared lists":            sharedLists(64) + " == " + sharedLists(64),
	"finding a list among shared lists": sharedLists(64) + " in [" + sharedLists(64) + "]",
	// 30,502 instructions: small enough to load (a short string matches
	// within the limit), too large for raw.s.
	"a regex with a large program":         `raw.s.matches("(` + strings.Repeat("a*", 40) + `){250}c")`,
	"a pattern from the profile":           `raw.s.matches(raw.pattern)`,
	"compiling a pattern from the profile": `"".matches(raw.pattern)`,
}

// sharedLists is a list of k*k references to raw.big, made by two map steps
// (as many as comprehensions may nest) that each concatenate k references
// to what the one before made.
func sharedLists(k int) string {
	e := "[[raw.big]]"
	for _, v := range []string{"a", "b"} {
		e += ".map(" + v + ", " + sum(v, k) + ")"
	}
	return e + "[0]"
}

// sum is v + v + ... (k terms), balanced to stay within the parser's depth.
func sum(v string, k int) string {
	if k == 1 {
		return v
	}
	return "(" + sum(v, k/2) + " + " + sum(v, k-k/2) + ")"
}

// TestNoCallOutrunsTheDeadline: each of outrunning is stopped at its cost
// limit, naming the expression. Rather than a time, which would depend on
// the machine, the test bounds the wait generously (ten seconds, with the
// one-second backstop out of the way, see TestMain: on a loaded machine it
// had fired first), where each ran for tens of seconds unguarded.
func TestNoCallOutrunsTheDeadline(t *testing.T) {
	u := hostileProfile(t)
	for name, expr := range outrunning {
		t.Run(name, func(t *testing.T) {
			m := mustCompile(t, Spec{Claims: map[string]string{"x": expr}})
			done := make(chan error, 1)
			go func() {
				_, err := m.Apply(t.Context(), u)
				done <- err
			}()
			select {
			case err := <-done:
				if errCode(err) != CodeFailed || !strings.Contains(err.Error(), "claims.x: stopped at its cost limit") {
					t.Fatalf("err = %v, want %s, stopped at the cost limit", err, CodeFailed)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the mapping still runs 10s after it started")
			}
		})
	}
}

// BenchmarkLongStringComparisons: CEL's cost tracker counts a string's
// characters at each comparison (== charges a tenth of the shorter side, but
// sizes both), so an email of 440,000 characters compared with each of 3,400
// listed emails, in a profile under the 1 MiB a connector accepts, ran for
// seconds before the cost limit saw it (the one-second deadline stopped it).
// Strings a mapping reads are bounded (MaxInputString; past it a string reads
// as an error, TestHostileExpressionsAreStoppedAtTheirLimits): at the bound,
// with as many entries as a megabyte allows, compare the time per Apply with
// a one-character email's.
// Run with: go test -run '^$' -bench BenchmarkLongStringComparisons ./host/mapping/
func BenchmarkLongStringComparisons(b *testing.B) {
	m := mustCompile(b, Spec{Allow: `raw.emails.exists(e, e.email == raw.email && e.verified == true)`})
	entries := make([]map[string]any, 32_000)
	for i := range entries {
		entries[i] = map[string]any{"email": "a", "verified": false}
	}
	for name, email := range map[string]string{
		"email=1":     "é",
		"email=bound": strings.Repeat("é", MaxInputString/2),
	} {
		raw, _ := json.Marshal(map[string]any{"email": email, "emails": entries})
		u := sdk.UserInfo{ID: "1", RawData: raw}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Apply(context.Background(), u); errCode(err) != CodeFailed {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRegexIsLinear: (a+)+$ against "aaa...ab" is the classic catastrophic
// backtracking case; a backtracking engine takes about 2^n steps for n a's
// (2^30 already takes minutes). CEL's matches() is RE2, whose work is linear
// in the input: on 16,383 a's it answers false, at a cost well inside the
// limit. The test finishing at all is the proof; BenchmarkRegexLinear shows
// the time growing with n, not 2^n.
func TestRegexIsLinear(t *testing.T) {
	u := hostileProfile(t)
	for _, re := range []string{`^(a+)+$`, `^(a|a)*$`, `^(a|aa)+$`, `^(.*a){20}$`} {
		m := mustCompile(t, Spec{Claims: map[string]string{"x": fmt.Sprintf("raw.aaa.matches(%q)", re)}})
		res, err := m.Apply(t.Context(), u)
		if err != nil {
			t.Fatalf("%s: %v", re, err)
		}
		if res.Claims["x"] != false {
			t.Fatalf("%s: matched: %v", re, res.Claims["x"])
		}
	}
}

func BenchmarkRegexLinear(b *testing.B) {
	for _, n := range []int{2_000, 6_000, 16_000} { // the last near MaxInputString
		raw, _ := json.Marshal(map[string]string{"s": strings.Repeat("a", n) + "b"})
		u := sdk.UserInfo{ID: "1", RawData: raw}
		m := mustCompile(&testing.T{}, Spec{Claims: map[string]string{"x": `raw.s.matches("^(a+)+$")`}})
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Apply(b.Context(), u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHostileMappingsDoNotHurtOtherSignIns runs every hostile expression over
// and over while ordinary sign-ins map at the same time: each hostile one is
// stopped with its error, and every ordinary one gets its full, right answer.
func TestHostileMappingsDoNotHurtOtherSignIns(t *testing.T) {
	u := hostileProfile(t)
	var hostile []*Mapping
	for _, c := range hostileAtRuntime {
		hostile = append(hostile, mustCompile(t, Spec{Claims: map[string]string{"x": c.expr}}))
	}
	good := mustCompile(t, Spec{
		Fields: map[string]string{"name": `raw.login`, "email": `raw.login + "@example.com"`},
		Claims: map[string]string{"n": `raw.?login.orValue("")`},
		Allow:  `raw.login != "eve"`,
	})
	goodProfile := sdk.UserInfo{ID: "7", RawData: json.RawMessage(`{"login": "ada"}`)}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Go(func() {
			for i := range 2 {
				m := hostile[(w+i)%len(hostile)]
				if _, err := m.Apply(t.Context(), u); errCode(err) != CodeFailed {
					errs <- fmt.Errorf("hostile mapping: %v", err)
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				res, err := good.Apply(t.Context(), goodProfile)
				switch {
				case err != nil:
					errs <- err
				case *res.UserInfo.Name != "ada" || *res.UserInfo.Email != "ada@example.com" || res.Claims["n"] != "ada":
					errs <- fmt.Errorf("ordinary mapping: %+v", res)
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

func TestErrorsNeverCarryTheProfile(t *testing.T) {
	secret := "s3cr3t-value-never-printed"
	u := sdk.UserInfo{ID: "1", RawData: json.RawMessage(`{"token": "` + secret + `"}`)}
	for _, expr := range []string{`int(raw.token)`, `raw.token.matches("[")`, `raw.token + 1`, `raw.token.size() / 0`} {
		m, err := Compile(Spec{Claims: map[string]string{"x": expr}})
		if err != nil {
			continue
		}
		_, err = m.Apply(t.Context(), u)
		var e *sdk.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: err = %v", expr, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error repeats the profile: %v", expr, err)
		}
	}
	// CEL's own messages quote what they could not use, at any size: a key
	// looked up by a profile value (an operator's role table), a timestamp
	// or a pattern read from the profile.
	long := secret + strings.Repeat("x", 256<<10)
	raw, _ := json.Marshal(map[string]any{"role": long[:MaxInputString], "created_at": long[:MaxInputString],
		"groups": map[string]any{"admins": true}, "p": "(" + secret,
		// A quote inside the value: CEL escapes it in its message.
		"quoted": `(x"` + secret + `\"` + secret})
	u = sdk.UserInfo{ID: "1", RawData: raw}
	for name, spec := range map[string]Spec{
		"role table":      {Claims: map[string]string{"role": `{"admin": "administrator", "staff": "member"}[raw.role]`}},
		"raw map by key":  {Allow: `raw.groups[raw.role] == true`},
		"account age":     {Allow: `timestamp(raw.created_at) < timestamp("2024-01-01T00:00:00Z")`},
		"profile pattern": {Allow: `"x".matches(raw.p)`},
		"quotes inside":   {Allow: `timestamp(raw.quoted) < timestamp("2024-01-01T00:00:00Z")`},
		// Messages that name a value unquoted, after the word "value".
		"an optional entry of a plain value": {Claims: map[string]string{"role": `{?"role": raw.role}`}},
		"an optional entry keyed by a value": {Claims: map[string]string{"role": `{?raw.role: raw.role}`}},
		"an optional element, a plain value": {Claims: map[string]string{"roles": `[?raw.role]`}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mustCompile(t, spec).Apply(t.Context(), u)
			if errCode(err) != CodeFailed {
				t.Fatalf("err = %v, want %s", err, CodeFailed)
			}
			if msg := err.Error(); strings.Contains(msg, secret) || len(msg) > 300 {
				t.Errorf("the %d-byte error repeats the profile: %.120s...", len(msg), msg)
			}
		})
	}
	// A key the expression itself names is still said.
	_, err := mustCompile(t, Spec{Claims: map[string]string{"x": `raw.nope`}}).Apply(t.Context(), u)
	if err == nil || !strings.Contains(err.Error(), "no such key: nope") {
		t.Errorf("err = %v, want the key the expression names", err)
	}
}

// MaxResultBytes bounds the result as JSON: a string of '<' is six times
// longer there (\u003c), and a claim of 16,000 of them had passed the bound as
// 96 KB, into the ID token, the userinfo answer and the stored session.
func TestResultBoundHoldsAsJSON(t *testing.T) {
	for name, c := range map[string]struct{ field, value string }{
		"a claim":         {"claim", strings.Repeat("<", 16_000)},
		"a profile field": {"name", strings.Repeat("\x01", 16_000)},
	} {
		t.Run(name, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]any{"bio": c.value})
			spec := Spec{Claims: map[string]string{"bio": `raw.bio`}}
			if c.field == "name" {
				spec = Spec{Fields: map[string]string{"name": `raw.bio`}}
			}
			res, err := mustCompile(t, spec).Apply(t.Context(), sdk.UserInfo{ID: "1", RawData: raw})
			if err == nil {
				out, _ := json.Marshal(res.Output())
				t.Fatalf("mapped to %d bytes as JSON, over %d", len(out), MaxResultBytes)
			}
			if !strings.Contains(err.Error(), "over 16384 bytes") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// jsonLen is what encoding/json writes for a string, never less.
func TestJSONLen(t *testing.T) {
	for _, s := range []string{"", "plain", "é東京", `"\`, "\n\r\t\b\f\x00\x1f", "<>&", "\u2028\u2029", "\xff\xfe", "a\xc3", strings.Repeat("<é", 100)} {
		j, _ := json.Marshal(s)
		if got, want := jsonLen(s)+2, len(j); got < want || got > want+2*len(s) {
			t.Errorf("jsonLen(%q) + 2 = %d, encoding/json writes %d", s, got, want)
		}
	}
}

// Numbers are read exactly or not at all: as the nearest double, the ids
// 18446744073709551615 and ...614 were one user (one subject at the OpenID
// Provider, one vault record).
func TestLargeNumbersAreReadExactlyOrNotAtAll(t *testing.T) {
	m := mustCompile(t, Spec{Fields: map[string]string{"id": `string(raw.user_id)`}, AllowIDChange: true,
		Claims: map[string]string{"uid": `raw.user_id`}})
	ids := map[string]string{}
	for _, n := range []string{"18446744073709551615", "18446744073709551614", "9223372036854775808", "-9223372036854775808"} {
		res, err := m.Apply(t.Context(), sdk.UserInfo{ID: "ignored", RawData: json.RawMessage(`{"user_id": ` + n + `}`)})
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		claim, _ := json.Marshal(res.Claims["uid"])
		if res.UserInfo.ID != n || string(claim) != n {
			t.Errorf("%s: id %q, claim %s", n, res.UserInfo.ID, claim)
		}
		if other, ok := ids[res.UserInfo.ID]; ok {
			t.Errorf("%s and %s map to one id", n, other)
		}
		ids[res.UserInfo.ID] = n
	}
	for _, n := range []string{"18446744073709551616", "123456789012345678901", "1.2345678901234567891E+19", "1e400"} {
		_, err := m.Apply(t.Context(), sdk.UserInfo{ID: "ignored", RawData: json.RawMessage(`{"user_id": ` + n + `, "pad": "` + strings.Repeat("x", 10) + `"}`)})
		if errCode(err) != CodeFailed || !strings.Contains(err.Error(), "more digits than") || strings.Contains(err.Error(), n) {
			t.Errorf("%s: err = %v, want mapping_failed naming the limit, not the number", n, err)
		}
	}
	// A decimal a double holds still reads as one.
	res, err := mustCompile(t, Spec{Claims: map[string]string{"score": `raw.score * 2.0`}}).Apply(t.Context(),
		sdk.UserInfo{ID: "1", RawData: json.RawMessage(`{"score": 0.1}`)})
	if err != nil || res.Claims["score"] != 0.2 {
		t.Errorf("0.1 * 2.0 = %v, %v", res.Claims["score"], err)
	}
}

// A profile field the connector set is bounded like raw's strings: one longer
// than MaxInputString reads as an error naming the limit; the others read as
// they are.
func TestLongProfileFieldsReadAsErrors(t *testing.T) {
	u := sdk.UserInfo{ID: "1", Name: sdk.String(strings.Repeat("n", 64<<10)), Email: sdk.String("a@example.com")}
	_, err := mustCompile(t, Spec{Claims: map[string]string{"x": `profile.name.size()`}}).Apply(t.Context(), u)
	if errCode(err) != CodeFailed || !strings.Contains(err.Error(), "65536 bytes, over the mapping's limit of 16384") {
		t.Fatalf("err = %v", err)
	}
	res, err := mustCompile(t, Spec{Claims: map[string]string{"x": `profile.email`}}).Apply(t.Context(), u)
	if err != nil || res.Claims["x"] != "a@example.com" {
		t.Fatalf("%v, %v", res.Claims, err)
	}
}

// The backstop: a mapping still running when its deadline passes is stopped
// at the meter's next look at the clock, with a message that says so. (With
// a deadline already past, the first look stops it, long before any limit.)
func TestTheDeadlineStopsAMapping(t *testing.T) {
	before := backstop.Swap(1)
	t.Cleanup(func() { backstop.Store(before) })
	m := mustCompile(t, Spec{Claims: map[string]string{"x": `raw.big.filter(x, x % 2 == 0).size()`}})
	_, err := m.Apply(t.Context(), hostileProfile(t))
	if errCode(err) != CodeFailed || !strings.Contains(err.Error(), "claims.x: stopped: the sign-in was cancelled, or the mapping ran for more than 1ns") {
		t.Fatalf("err = %v, want %s, stopped by the deadline", err, CodeFailed)
	}
}
