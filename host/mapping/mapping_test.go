package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func mustCompile(t testing.TB, s Spec) *Mapping {
	t.Helper()
	m, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func octocat() sdk.UserInfo {
	return sdk.UserInfo{ID: "583231", Email: sdk.String("octocat@github.com"),
		RawData: json.RawMessage(`{"id": 583231, "login": "octocat", "name": null, "orgs": [{"login": "github"}, {"login": "acme"}], "score": 1.5}`)}
}

func errCode(err error) sdk.ErrorCode {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestApplyMapsFieldsAndClaims(t *testing.T) {
	m := mustCompile(t, Spec{
		Fields: map[string]string{
			"name":   `raw.?name.orValue(null) != null ? raw.name : raw.login`,
			"avatar": `"https://avatars.example/" + string(raw.id)`,
			"email":  `null`,
			"id":     `"gh-" + profile.id`,
		},
		AllowIDChange: true,
		Claims: map[string]string{
			"orgs":  `raw.orgs.map(o, o.login)`,
			"score": `raw.score`,
			"none":  `raw.?missing`,
		},
		Allow: `raw.orgs.exists(o, o.login == "acme")`,
	})
	res, err := m.Apply(t.Context(), octocat())
	if err != nil {
		t.Fatal(err)
	}
	u := res.UserInfo
	if u.ID != "gh-583231" || *u.Name != "octocat" || *u.Avatar != "https://avatars.example/583231" || u.Email != nil {
		t.Errorf("userInfo = %+v", u)
	}
	got, _ := json.Marshal(res.Claims)
	if string(got) != `{"orgs":["github","acme"],"score":1.5}` {
		t.Errorf("claims = %s", got)
	}
}

func TestFieldsLeftOutKeepTheConnectorsValues(t *testing.T) {
	m := mustCompile(t, Spec{Fields: map[string]string{"name": `"x"`}})
	in := octocat()
	res, err := m.Apply(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.UserInfo.ID != in.ID || res.UserInfo.Email != in.Email || string(res.UserInfo.RawData) != string(in.RawData) {
		t.Errorf("userInfo = %+v", res.UserInfo)
	}
	var nilMapping *Mapping
	res, err = nilMapping.Apply(t.Context(), in)
	if err != nil || res.UserInfo.ID != in.ID || res.Claims == nil {
		t.Errorf("nil mapping: %+v, %v", res, err)
	}
}

func TestAllowRefusesWithTheReason(t *testing.T) {
	m := mustCompile(t, Spec{Allow: `profile.email.endsWith("@example.com")`, AllowReason: "only example.com accounts"})
	_, err := m.Apply(t.Context(), octocat())
	if errCode(err) != sdk.CodeAuthorizationFailed || !strings.Contains(err.Error(), "only example.com accounts") {
		t.Fatalf("err = %v", err)
	}
	m = mustCompile(t, Spec{Allow: `profile.email.endsWith("@github.com")`})
	if _, err := m.Apply(t.Context(), octocat()); err != nil {
		t.Fatal(err)
	}
	m = mustCompile(t, Spec{Allow: `false`})
	if _, err := m.Apply(t.Context(), octocat()); !strings.Contains(err.Error(), DefaultAllowReason) {
		t.Fatalf("err = %v", err)
	}
}

func TestCompileProblemsNameFieldAndPosition(t *testing.T) {
	_, err := Compile(Spec{
		Fields: map[string]string{"name": `raw.login +`, "email": `profile.mail`, "phone": `1 + 2`, "id": `raw.x`, "nickname": `"x"`},
		Claims: map[string]string{"sub": `"x"`, "bad name": `"x"`, "ok": `rwa.x`, "when": `duration("forever")`,
			"Sub": `"x"`, "EMAIL": `"x"`, "groups": `"x"`, "Groups": `"x"`},
		Allow:       `"yes"`,
		AllowReason: strings.Repeat("x", MaxReasonLen+1),
	})
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"allow_reason: is 201 bytes",
		"nickname: is not a profile field",
		"id: changing the id makes every user a new user",
		"name: line 1, column 12 of the expression: Syntax error",
		"email: line 1, column 8 of the expression: profile has no field \"mail\"",
		"phone: must yield a string (or null, or an optional, to leave the field unset), but yields int",
		`claims.bad name: "bad name" is not a claim name`,
		"claims.ok: line 1, column 1 of the expression: undeclared reference to 'rwa'",
		`claims.sub: "sub" is set by idplug itself`,
		// A relying party decoding claims without regard to case (Go's
		// encoding/json) would read "Sub" as sub.
		`claims.Sub: "Sub" differs from "sub", which idplug sets itself, only in case`,
		`claims.EMAIL: "EMAIL" differs from "email", which idplug sets itself, only in case`,
		`claims.Groups: "Groups" differs from the claim "groups" only in case`,
		`claims.groups: "groups" differs from the claim "Groups" only in case`,
		"claims.when: line 1, column 10 of the expression: invalid duration argument",
		"allow: must yield a bool, but yields string",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("no %q in:\n%s", w, strings.ReplaceAll(msg, "; ", "\n"))
		}
	}
}

func TestEvaluationErrorsNameTheExpression(t *testing.T) {
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Fields: map[string]string{"name": `profile.name`}}, "mapping: name: no such key: name"},
		{Spec{Fields: map[string]string{"name": `raw.id`}}, "name yielded a int, not a string"},
		{Spec{Fields: map[string]string{"id": `""`}, AllowIDChange: true}, "id yielded an empty value"},
		{Spec{Claims: map[string]string{"x": `{raw.id: 2}`}}, "claims.x: yields a map with a int key"},
		{Spec{Claims: map[string]string{"x": `raw.score / 0.0`}}, "claims.x: yields NaN or an infinity"},
		{Spec{Allow: `raw.login == 1 || raw.nope`}, "allow: no such key: nope"},
		{Spec{Claims: map[string]string{"x": `raw.login + raw.login`}}, ""},
	}
	for _, c := range cases {
		m := mustCompile(t, c.spec)
		_, err := m.Apply(t.Context(), octocat())
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.spec, err)
			}
			continue
		}
		if errCode(err) != CodeFailed || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.spec, err, c.want)
		}
	}
}

// The mapping's own words on a claim's value reach the message whole: they
// carry nothing of the profile (the scrubbing of CEL's words had cut this one
// to "yields a value…").
func TestClaimTooDeepIsSaidWhole(t *testing.T) {
	m := mustCompile(t, Spec{Claims: map[string]string{"x": `raw.deep`}})
	u := octocat()
	u.RawData = json.RawMessage(`{"deep": ` + strings.Repeat("[", 70) + "1" + strings.Repeat("]", 70) + `}`)
	if _, err := m.Apply(t.Context(), u); errCode(err) != CodeFailed || !strings.Contains(err.Error(), fmt.Sprintf("claims.x: yields a value nested deeper than %d", maxValueDepth)) {
		t.Fatalf("a claim nested 70 deep: %v", err)
	}
}

func TestRawIsDecodedOnlyWhenRead(t *testing.T) {
	m := mustCompile(t, Spec{Fields: map[string]string{"name": `profile.id + "!"`}})
	if m.usesRaw {
		t.Fatal("a mapping that never reads raw decodes it")
	}
	u := octocat()
	u.RawData = json.RawMessage(`not json`)
	if _, err := m.Apply(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	m = mustCompile(t, Spec{Fields: map[string]string{"name": `raw.login`}})
	if _, err := m.Apply(t.Context(), u); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadSample(t *testing.T) {
	u, err := ReadSample(strings.NewReader(`{"profile": {"id": "1", "name": "Ada"}, "raw": {"login": "ada"}}`))
	if err != nil || u.ID != "1" || *u.Name != "Ada" || string(u.RawData) != `{"login": "ada"}` {
		t.Fatalf("%+v %v", u, err)
	}
	for in, want := range map[string]string{
		``:                            "the sample is empty",
		`{"profil": {"id": "1"}}`:     `unknown key "profil"; the sample has profile and raw`,
		`{"profile": {"name": "x"}}`:  "profile.id is required",
		`{"profile": {"id": "1"}} {}`: "one JSON object",
		`{"profile": {"id": 1}}`:      "profile.id must be a string, not a number",
		`[{"profile": {"id": "1"}}]`:  "it is a list, not an object",
		"{\n  \"profile\": {\"id\": \"1\"}, \"raw\": [1,]}": "line 2, column 37: invalid character ']'",
		`{"profile": {"id": "1"`:                            "the JSON ends before it is complete",
	} {
		if _, err := ReadSample(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestApplyHonoursTheCallersContext(t *testing.T) {
	m := mustCompile(t, Spec{Claims: map[string]string{"x": `raw.orgs.map(o, o.login)`}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Apply(ctx, octocat()); errCode(err) != CodeFailed {
		t.Fatalf("err = %v", err)
	}
}

// A claim of a type JSON cannot hold (bytes, a duration, a timestamp) is
// refused when the configuration loads, inside an optional, a list or a map
// too: it would fail at every sign-in.
func TestClaimsThatCanNeverBeJSONAreRefusedAtLoad(t *testing.T) {
	for _, expr := range []string{
		`b"abc"`, `duration("1s")`, `optional.of(b"abc")`, `optional.of(duration("1s"))`, `[optional.of(b"abc")]`,
		`optional.of([b"abc"])`, `{"a": optional.of(timestamp("2024-01-01T00:00:00Z"))}`, `optional.of(optional.of(b"abc"))`,
	} {
		_, err := Compile(Spec{Claims: map[string]string{"x": expr}})
		if err == nil || !strings.Contains(err.Error(), "claims.x: must yield a JSON value") {
			t.Errorf("%s: err = %v", expr, err)
		}
	}
	// Optionals of what JSON holds give their value, or leave the claim out.
	for expr, want := range map[string]string{
		`optional.of("abc")`:                   `{"x":"abc"}`,
		`optional.of(string(duration("1s")))`:  `{"x":"1s"}`,
		`[optional.of(1), optional.none()]`:    `{"x":[1,null]}`,
		`{"a": optional.of([optional.of(1)])}`: `{"x":{"a":[1]}}`,
		`optional.none()`:                      `{}`,
		`raw.?missing`:                         `{}`,
	} {
		res, err := mustCompile(t, Spec{Claims: map[string]string{"x": expr}}).Apply(t.Context(), octocat())
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got, _ := json.Marshal(res.Claims); string(got) != want {
			t.Errorf("%s: claims = %s, want %s", expr, got, want)
		}
	}
}

// A mapping's fingerprint changes with what it does, and only with that: the
// same expressions compiled again (a reload of the same file) keep it, so the
// browser sessions it made keep serving.
func TestFingerprintNamesWhatAMappingDoes(t *testing.T) {
	compile := func(s Spec) *Mapping {
		t.Helper()
		m, err := Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	base := Spec{Fields: map[string]string{"name": `profile.id`}, Claims: map[string]string{"a": `1`, "b": `2`}}
	fp := compile(base).Fingerprint()
	if fp == "" || compile(base).Fingerprint() != fp {
		t.Fatalf("the same mapping compiled twice: %q and %q", fp, compile(base).Fingerprint())
	}
	reason := base
	reason.Allow, reason.AllowReason = `true`, "one reason"
	other := reason
	other.AllowReason = "another reason"
	if compile(reason).Fingerprint() != compile(other).Fingerprint() {
		t.Error("the refusal's wording changed the fingerprint")
	}
	for name, s := range map[string]Spec{
		"an allow rule":    reason,
		"another field":    {Fields: map[string]string{"name": `profile.id + "!"`}, Claims: base.Claims},
		"a claim fewer":    {Fields: base.Fields, Claims: map[string]string{"a": `1`}},
		"a claim renamed":  {Fields: base.Fields, Claims: map[string]string{"a": `1`, "c": `2`}},
		"a field as claim": {Claims: map[string]string{"nm": `profile.id`, "a": `1`, "b": `2`}},
	} {
		if got := compile(s).Fingerprint(); got == fp {
			t.Errorf("%s: the fingerprint did not change", name)
		}
	}
	var none *Mapping
	if none.Fingerprint() != "" || compile(Spec{}).Fingerprint() != "" {
		t.Error("a mapping that changes nothing has a fingerprint")
	}
}
