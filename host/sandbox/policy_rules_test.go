package sandbox

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestModeRules: the modes a configuration may name, the default, and what a
// mode outside the list does.
func TestModeRules(t *testing.T) {
	if !slices.Equal(Modes, []string{"auto", "required", "off"}) {
		t.Errorf("Modes = %v, want auto, required, off", Modes)
	}
	full := Support{LandlockABI: abiScopes, Seccomp: true}
	cases := []struct {
		name     string
		mode     Mode
		want     Mode
		confined bool // Assess applies restrictions
	}{
		{"an empty mode is auto", "", ModeAuto, true},
		{"auto stays auto", ModeAuto, ModeAuto, true},
		{"required stays required", ModeRequired, ModeRequired, true},
		{"off stays off", ModeOff, ModeOff, false},
		{"hostile: a capitalised Off is not off", "Off", "Off", true},
		{"hostile: an unknown mode is not off", "none", "none", true},
		{"hostile: off with spaces is not off", " off", " off", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Policy{Mode: c.mode}
			if got := p.EffectiveMode(); got != c.want {
				t.Errorf("EffectiveMode = %q, want %q", got, c.want)
			}
			r := Assess(p, full)
			if got := len(r.Applied) > 0; got != c.confined {
				t.Errorf("Assess applies %v, want confinement %v", r.Applied, c.confined)
			}
		})
	}
}

// TestForPluginRules: a key applies to a plugin when it is the plugin's name,
// or ends in "*" and the text before the "*" starts the name; all matching keys
// apply, in key order.
func TestForPluginRules(t *testing.T) {
	cases := []struct {
		name   string
		policy map[string][]string
		plugin string
		want   []string
	}{
		{"the plugin's own name applies", map[string][]string{"oauth2": {"/a"}}, "oauth2", []string{"/a"}},
		{"a prefix key applies to names it starts", map[string][]string{"logto-*": {"/b"}}, "logto-github", []string{"/b"}},
		{"every matching key applies, in key order", map[string][]string{"logto-github": {"/a"}, "logto-*": {"/b"}, "log*": {"/c"}},
			"logto-github", []string{"/c", "/b", "/a"}},
		{"several paths of one key keep their order", map[string][]string{"oauth2": {"/z", "/a"}}, "oauth2", []string{"/z", "/a"}},
		{"a nil policy gives nothing", nil, "oauth2", nil},
		{"hostile: another plugin's key does not apply", map[string][]string{"github": {"/a"}}, "oauth2", nil},
		{"hostile: an exact key does not cover longer names", map[string][]string{"logto-github": {"/a"}}, "logto-github-enterprise", nil},
		{"hostile: an exact key does not cover shorter names", map[string][]string{"logto-github": {"/a"}}, "logto-githu", nil},
		{"hostile: a name is not a prefix without a *", map[string][]string{"logto": {"/a"}}, "logto-github", nil},
		{"hostile: logto-* does not cover logto itself", map[string][]string{"logto-*": {"/a"}}, "logto", nil},
		{"hostile: logto-* does not cover logtoevil-x", map[string][]string{"logto-*": {"/a"}}, "logtoevil-x", nil},
		{"hostile: a * inside a key is no wildcard", map[string][]string{"lo*to-github": {"/a"}}, "logto-github", nil},
		{"hostile: a leading * matches no suffix", map[string][]string{"*-github": {"/a"}}, "logto-github", nil},
		{"hostile: keys are case-sensitive", map[string][]string{"Logto-*": {"/a"}, "OAUTH2": {"/b"}}, "logto-oauth2", nil},
		{"hostile: a prefix key does not match a name that only contains it", map[string][]string{"github*": {"/a"}}, "logto-github", nil},
		{"hostile: a lone * applies to no plugin", map[string][]string{"*": {"/a"}}, "oauth2", nil},
		{"hostile: a lone * beside a real key adds nothing", map[string][]string{"*": {"/a"}, "oauth2": {"/b"}}, "oauth2", []string{"/b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ForPlugin(c.policy, c.plugin)
			if !slices.Equal(got, c.want) {
				t.Errorf("ForPlugin(%v, %q) = %q, want %q", c.policy, c.plugin, got, c.want)
			}
		})
	}
}

// TestForPluginIsStable: the same policy gives the same list every start, and
// a caller that changes the list does not change the policy.
func TestForPluginIsStable(t *testing.T) {
	m := map[string][]string{"a*": {"/1"}, "ab*": {"/2"}, "abc": {"/3", "/4"}, "abc*": {"/5"}, "a": {"/6"}}
	first := ForPlugin(m, "abc")
	for range 50 { // map iteration order varies from one range to the next
		if got := ForPlugin(m, "abc"); !slices.Equal(got, first) {
			t.Fatalf("ForPlugin changed its order: %q then %q", first, got)
		}
	}
	if want := []string{"/1", "/2", "/3", "/4", "/5"}; !slices.Equal(first, want) {
		t.Errorf("ForPlugin = %q, want %q", first, want)
	}
	// Hostile: writing into the result, or appending to it, leaves the policy alone.
	one := map[string][]string{"x": make([]string, 1, 4)}
	one["x"][0] = "/orig"
	got := ForPlugin(one, "x")
	got[0] = "/changed"
	_ = append(got, "/appended")
	if one["x"][0] != "/orig" || one["x"][:2][1] != "" {
		t.Errorf("the policy changed through ForPlugin's result: %q", one["x"][:2])
	}
}

// TestAssessRules: what each Landlock ABI and seccomp give, what is reported
// missing and why, and when mode required refuses.
func TestAssessRules(t *testing.T) {
	all := []string{FeatureFS, FeatureBind, FeatureScopes, FeatureSeccomp, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC, FeatureEgress}
	full := Support{LandlockABI: 7, Seccomp: true, Namespaces: true}
	cases := []struct {
		name        string
		policy      Policy
		support     Support
		applied     []string
		missing     []string // substrings, in order
		refusal     []string // substrings of Refusal; nil when it must be ""
		wantUser    string
		wantLandABI int
		wantEgress  Egress
	}{
		{"auto on a full kernel applies everything, egress proxy by default", Policy{}, full, all, nil, nil, "", 7, EgressProxy},
		{"ABI 6 is enough for everything", Policy{Mode: ModeRequired}, Support{LandlockABI: 6, Seccomp: true, Namespaces: true}, all, nil, nil, "", 6, EgressProxy},
		{"egress open asked for: no proxy, nothing missing", Policy{Egress: EgressOpen}, full, all[:8], nil, nil, "", 7, EgressOpen},
		{"ABI 5 lacks the scopes", Policy{}, Support{LandlockABI: 5, Seccomp: true, Namespaces: true},
			[]string{FeatureFS, FeatureBind, FeatureSeccomp, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC, FeatureEgress}, []string{FeatureScopes + " (needs Landlock ABI 6, kernel has 5)"}, nil, "", 5, EgressProxy},
		{"ABI 4 gives tcp bind and connect", Policy{}, Support{LandlockABI: 4, Seccomp: true, Namespaces: true},
			[]string{FeatureFS, FeatureBind, FeatureSeccomp, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC, FeatureEgress}, []string{FeatureScopes}, nil, "", 4, EgressProxy},
		{"ABI 3 lacks bind, scopes and connect: egress falls back to open", Policy{}, Support{LandlockABI: 3, Seccomp: true, Namespaces: true},
			[]string{FeatureFS, FeatureSeccomp, FeatureRoot, FeatureProc, FeatureIPC}, []string{FeatureBind + " (needs Landlock ABI 4, kernel has 3)", FeatureScopes, FeatureConnect}, nil, "", 3, EgressOpen},
		{"no namespaces: no private root, egress open by default", Policy{}, Support{LandlockABI: 7, Seccomp: true},
			all[:5], []string{FeatureRoot, FeatureProc + " (no PID namespace)", FeatureIPC}, nil, "", 7, EgressOpen},
		{"hostile: egress proxy asked for without namespaces is a gap, and open is what runs", Policy{Egress: EgressProxy}, Support{LandlockABI: 7, Seccomp: true},
			all[:5], []string{FeatureRoot, FeatureProc, FeatureIPC, FeatureEgress}, nil, "", 7, EgressOpen},
		{"required refuses without namespaces", Policy{Mode: ModeRequired}, Support{LandlockABI: 7, Seccomp: true},
			all[:5], []string{FeatureRoot, FeatureProc + " (no PID namespace)", FeatureIPC}, []string{"sandbox mode is required", FeatureRoot}, "", 7, EgressOpen},
		{"ABI 1 gives the file system only", Policy{}, Support{LandlockABI: 1},
			[]string{FeatureFS}, []string{FeatureBind, FeatureScopes, FeatureSeccomp + " (no seccomp in this kernel)", FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC}, nil, "", 1, EgressOpen},
		{"no Landlock, seccomp only", Policy{}, Support{Seccomp: true},
			[]string{FeatureSeccomp}, []string{FeatureFS + " (no Landlock in this kernel)", FeatureBind, FeatureScopes, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC}, nil, "", 0, EgressOpen},
		{"required refuses without seccomp", Policy{Mode: ModeRequired}, Support{LandlockABI: 7, Namespaces: true},
			[]string{FeatureFS, FeatureBind, FeatureScopes, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC, FeatureEgress}, []string{FeatureSeccomp},
			[]string{"sandbox mode is required", FeatureSeccomp}, "", 7, EgressProxy},
		{"required refuses at ABI 5 and names the scopes", Policy{Mode: ModeRequired}, Support{LandlockABI: 5, Seccomp: true, Namespaces: true},
			[]string{FeatureFS, FeatureBind, FeatureSeccomp, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC, FeatureEgress}, []string{FeatureScopes},
			[]string{"needs Landlock ABI 6, kernel has 5"}, "", 5, EgressProxy},
		{"required on a bare kernel names every gap", Policy{Mode: ModeRequired}, Support{}, nil,
			[]string{FeatureFS, FeatureBind, FeatureScopes, FeatureSeccomp, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC},
			[]string{FeatureFS, FeatureBind, FeatureScopes, FeatureSeccomp, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC}, "", 0, EgressOpen},
		{"a masked /proc: the host's is bound, and that is a gap", Policy{}, Support{LandlockABI: 7, Seccomp: true, Namespaces: true, NoOwnProc: true},
			[]string{FeatureFS, FeatureBind, FeatureScopes, FeatureSeccomp, FeatureConnect, FeatureRoot, FeatureIPC, FeatureEgress},
			[]string{FeatureProc + " (no procfs can be mounted"}, nil, "", 7, EgressProxy},
		{"off reports nothing applied nor missing", Policy{Mode: ModeOff}, full, nil, nil, nil, "", 7, EgressOpen},
		{"off never refuses", Policy{Mode: ModeOff}, Support{}, nil, nil, nil, "", 0, EgressOpen},
		{"the plugin user is reported", Policy{User: &User{Name: "nobody", UID: 65534, GID: 65534}}, full, all, nil, nil, "nobody", 7, EgressProxy},
		{"hostile: an ABI limit in the policy does not inflate the support", Policy{ABILimit: 9}, Support{LandlockABI: 3, Seccomp: true, Namespaces: true},
			[]string{FeatureFS, FeatureSeccomp, FeatureRoot, FeatureProc, FeatureIPC}, []string{FeatureBind, FeatureScopes, FeatureConnect}, nil, "", 3, EgressOpen},
		{"hostile: auto never refuses, even with nothing", Policy{Mode: ModeAuto}, Support{}, nil,
			[]string{FeatureFS, FeatureBind, FeatureScopes, FeatureSeccomp, FeatureConnect, FeatureRoot, FeatureProc, FeatureIPC}, nil, "", 0, EgressOpen},
		{"hostile: a negative ABI counts as none", Policy{Mode: ModeRequired}, Support{LandlockABI: -1, Seccomp: true, Namespaces: true},
			[]string{FeatureSeccomp, FeatureRoot, FeatureProc, FeatureIPC}, []string{FeatureFS, FeatureBind, FeatureScopes, FeatureConnect}, []string{FeatureFS}, "", -1, EgressOpen},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Assess(c.policy, c.support)
			if r.Mode != c.policy.EffectiveMode() || r.LandlockABI != c.wantLandABI || r.User != c.wantUser || r.Egress != c.wantEgress {
				t.Errorf("report %+v", r)
			}
			if !slices.Equal(r.Applied, c.applied) && !(len(r.Applied) == 0 && len(c.applied) == 0) {
				t.Errorf("Applied = %q, want %q", r.Applied, c.applied)
			}
			if len(r.Missing) != len(c.missing) {
				t.Fatalf("Missing = %q, want %d entries like %q", r.Missing, len(c.missing), c.missing)
			}
			for i, m := range c.missing {
				if !strings.HasPrefix(r.Missing[i], m) {
					t.Errorf("Missing[%d] = %q, want it to start with %q", i, r.Missing[i], m)
				}
			}
			for _, f := range all {
				if r.Has(f) != slices.Contains(c.applied, f) {
					t.Errorf("Has(%q) = %v", f, r.Has(f))
				}
			}
			if got, want := r.Complete(), len(c.missing) == 0; got != want {
				t.Errorf("Complete = %v, want %v", got, want)
			}
			refusal := r.Refusal()
			if c.refusal == nil && refusal != "" {
				t.Errorf("Refusal = %q, want none", refusal)
			}
			if c.refusal != nil && refusal == "" {
				t.Errorf("no refusal, want one naming %q", c.refusal)
			}
			for _, want := range c.refusal {
				if !strings.Contains(refusal, want) {
					t.Errorf("Refusal = %q, want it to name %q", refusal, want)
				}
			}
		})
	}
}

// TestReportJSON: /readyz shows applied and missing as lists, empty ones too,
// and the user only when there is one.
func TestReportJSON(t *testing.T) {
	cases := []struct {
		name string
		r    Report
		want string
	}{
		{"off: empty lists, not null", Assess(Policy{Mode: ModeOff}, Support{}),
			`{"mode":"off","landlockAbi":0,"applied":[],"missing":[],"egress":"open"}`},
		{"complete: an empty missing list", Assess(Policy{}, Support{LandlockABI: 6, Seccomp: true, Namespaces: true}),
			`{"mode":"auto","landlockAbi":6,"applied":["landlock file system","landlock tcp bind","landlock signal and abstract socket scopes","seccomp deny list","landlock tcp connect","private root (mount namespace)","private /proc (pid namespace)","private ipc and uts namespaces","egress proxy (network namespace)"],"missing":[],"egress":"proxy"}`},
		{"with a plugin user", Assess(Policy{Mode: ModeOff, User: &User{Name: "idplug-plugins", UID: 999}}, Support{}),
			`{"mode":"off","landlockAbi":0,"applied":[],"missing":[],"egress":"open","user":"idplug-plugins"}`},
		{"hostile: the user's ids are not shown", Assess(Policy{Mode: ModeOff, User: &User{Name: "u", UID: 1234, GID: 5678}}, Support{}),
			`{"mode":"off","landlockAbi":0,"applied":[],"missing":[],"egress":"open","user":"u"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.r)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Errorf("got  %s\nwant %s", b, c.want)
			}
		})
	}
}

// kernelLandlockABI asks the kernel directly, without the package's code: the
// Landlock ABI version, or 0 without Landlock.
func kernelLandlockABI() int {
	const createRulesetVersion = 1 << 0 // LANDLOCK_CREATE_RULESET_VERSION
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(nil)), 0, createRulesetVersion)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// TestDetectOnThisKernel: Detect reports the running kernel's Landlock ABI,
// capped by the policy's ABILimit, and seccomp where a program exists for the
// architecture.
func TestDetectOnThisKernel(t *testing.T) {
	abi := kernelLandlockABI()
	_, seccompErr := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	wantSeccomp := seccompErr == nil && auditArch != 0
	cases := []struct {
		name  string
		limit int
		want  int
	}{
		{"no limit gives the kernel's ABI", 0, abi},
		{"a limit caps the ABI", 1, min(abi, 1)},
		{"a limit at 3 caps the ABI", 3, min(abi, 3)},
		{"hostile: a limit above the kernel never raises it", abi + 5, abi},
		{"hostile: a negative limit is no limit", -1, abi},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Detect(Policy{ABILimit: c.limit})
			if s.LandlockABI != c.want {
				t.Errorf("LandlockABI = %d, want %d (kernel %d)", s.LandlockABI, c.want, abi)
			}
			if s.Seccomp != wantSeccomp {
				t.Errorf("Seccomp = %v, want %v", s.Seccomp, wantSeccomp)
			}
		})
	}
	t.Run("required refuses on a kernel capped below ABI 6", func(t *testing.T) {
		if abi < 4 {
			t.Skipf("this kernel has Landlock ABI %d; the cap to 3 shows nothing below 4", abi)
		}
		p := Policy{Mode: ModeRequired, ABILimit: 3}
		r := Assess(p, Detect(p))
		if !strings.Contains(r.Refusal(), "kernel has 3") {
			t.Errorf("Refusal = %q", r.Refusal())
		}
	})
}

// TestPolicyCheckRules: a policy built in code is refused where a configuration
// would be: an unknown mode (which must never confine less than the mode
// meant) and a lone "*" key; the refusal names what is wrong, reaches the
// report, and stops every start, whatever the kernel offers.
func TestPolicyCheckRules(t *testing.T) {
	cases := []struct {
		name   string
		policy Policy
		want   []string // substrings of the error; nil when the policy is fine
	}{
		{"the zero policy is fine", Policy{}, nil},
		{"each mode is fine", Policy{Mode: ModeRequired}, nil},
		{"off is fine", Policy{Mode: ModeOff}, nil},
		{"plugin and prefix keys are fine", Policy{Read: map[string][]string{"oauth2": {"/a"}, "logto-*": {"/b"}}, Exec: map[string][]string{"bridge-*": {"/c"}}}, nil},
		{"hostile: an unknown mode", Policy{Mode: "strict"}, []string{`sandbox mode "strict"`, "auto, required, off", "no plugin starts"}},
		{"hostile: a misspelt mode", Policy{Mode: "requierd"}, []string{`"requierd"`}},
		{"hostile: a capitalised mode", Policy{Mode: "Required"}, []string{`"Required"`}},
		{"hostile: a mode with spaces", Policy{Mode: " off"}, []string{`" off"`}},
		{"hostile: a lone * read key", Policy{Read: map[string][]string{"*": {"/etc"}}}, []string{`read key "*"`}},
		{"hostile: a lone * exec key", Policy{Exec: map[string][]string{"*": {"/bin/sh"}}}, []string{`exec key "*"`}},
		{"hostile: a lone * key under mode off", Policy{Mode: ModeOff, Exec: map[string][]string{"*": {"/bin"}}}, []string{`exec key "*"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.policy.Check()
			if c.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check = nil, want a refusal")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check = %q, want it to name %q", err, w)
				}
			}
			// The report carries it on any kernel: no plugin starts.
			for _, s := range []Support{{}, {LandlockABI: abiScopes, Seccomp: true}} {
				r := Assess(c.policy, s)
				if r.Refusal() != err.Error() || r.Complete() {
					t.Errorf("support %+v: Refusal = %q, Complete %v; want %q", s, r.Refusal(), r.Complete(), err)
				}
			}
		})
	}
}

// TestCommandRefusesAnInvalidPolicy: Command checks the policy it is given
// itself, even with a report made from a valid one.
func TestCommandRefusesAnInvalidPolicy(t *testing.T) {
	dir := pluginFolder(t)
	path := plugin(t, dir, "oauth2", elfBytes(""))
	for _, p := range []Policy{{Mode: "strict"}, {Read: map[string][]string{"*": {"/etc"}}}, {Exec: map[string][]string{"*": {"/bin"}}}} {
		cmd, _, err := commandFor(t, path, "oauth2", p, fullReport(ModeAuto))
		if err == nil || cmd != nil || err.Error() != p.Check().Error() {
			t.Errorf("policy %+v: cmd %v, err %v; want the refusal %q", p, cmd, err, p.Check())
		}
	}
}
