package connectortest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/sdk"
)

// Options tell the kit how to use the connector under test.
type Options struct {
	// ValidConfig is a complete configuration that ParseConfig accepts, with every
	// required form item set. The checks change it one key at a time. Point its
	// endpoints at Provider to run the sign-in checks.
	ValidConfig map[string]any

	// Provider is the fake provider ValidConfig points at. When set, the kit signs in
	// through it and checks how the connector reports the provider's failures;
	// without it the "signin" checks are skipped.
	Provider *Provider

	// WantUser is the profile a sign-in through Provider must return: ID always,
	// and each other field that is not nil. When nil, any non-empty ID will do.
	WantUser *sdk.UserInfo

	// FormValues are values the kit uses for form items that ValidConfig leaves out,
	// when it checks that ParseConfig accepts each form item's key. Without one the
	// kit uses the item's default value, or an empty value of the item's type.
	FormValues map[string]any

	// RedirectURI is the callback URL of the authorization requests
	// (DefaultRedirectURI when empty).
	RedirectURI string

	// CallTimeout bounds every call to the connector (10s when zero).
	CallTimeout time.Duration

	// Skip turns checks off, by name ("callback/state-mismatch") or by group
	// ("signin"). The value says why; it is logged. A name that is no check is an
	// error, so that a typo does not silently run everything.
	Skip map[string]string

	// Strict makes every skip a failure, except those Options.Skip asks for, the
	// id-token checks of a connector that asks for no ID token and
	// secrets/never-printed through the host: a check that cannot run (no
	// Provider, no WantUser, no refresh token, a connector that authenticates
	// one way the provider does not pin down...) fails and says why, so that
	// nothing goes unchecked unnoticed. Without it a skipped check logs why, and
	// Run lists the skips at the end.
	Strict bool
}

// DefaultRedirectURI is the callback URL the kit sends when Options.RedirectURI is empty.
const DefaultRedirectURI = "https://idplug.example/callback/connectortest"

func (o *Options) callTimeout() time.Duration {
	if o.CallTimeout > 0 {
		return o.CallTimeout
	}
	return 10 * time.Second
}

func (o *Options) redirectURI() string {
	if o.RedirectURI != "" {
		return o.RedirectURI
	}
	return DefaultRedirectURI
}

// Check describes one of the kit's checks.
type Check struct {
	// Name is "group/check", as the subtest is named and as Options.Skip takes it.
	Name string
	// Description says what the check requires of a connector.
	Description string
}

// Checks lists every check Run makes, in the order it makes them.
func Checks() []Check {
	out := make([]Check, len(checks))
	for i, c := range checks {
		out[i] = Check{Name: c.name, Description: c.doc}
	}
	return out
}

// Run checks that target keeps the connector contract, one subtest per check.
//
//	func TestConnectorKit(t *testing.T) {
//		p := connectortest.NewProvider(t)
//		connectortest.Run(t, hosttest.Binary("."), connectortest.Options{
//			ValidConfig: map[string]any{
//				"clientId": p.ClientID(), "clientSecret": p.ClientSecret(),
//				"authorizationEndpoint": p.AuthorizationEndpoint(),
//				"tokenEndpoint": p.TokenEndpoint(), "userInfoEndpoint": p.UserInfoEndpoint(),
//			},
//			Provider: p,
//		})
//	}
//
// Checks lists what is checked. Everything the kit starts (the plugin process, the
// host) is stopped when the test ends.
func Run(t T, target Target, opts Options) {
	t.Helper()
	var failures atomic.Int64
	for name := range opts.Skip {
		if !knownCheck(name) {
			failures.Add(1)
			t.Errorf("connectortest: Options.Skip names %q, which is no check or group of checks", name)
		}
	}
	d, err := target.open(t, &opts)
	if err != nil {
		t.Fatalf("connectortest: cannot load the %s: %v", target, err)
		return
	}
	k := &kit{
		opts: opts,
		meta: d.metadata(),
		code: "connectortest-code-" + randomHex(12),
	}
	k.d = watched{driver: d, k: k}
	k.leaks.check = "setting up Options.ValidConfig"
	k.setUp(t)
	for _, c := range checks {
		k.run(t, c, &failures)
	}
	if skipped := k.skips.list(); len(skipped) > 0 {
		t.Logf("connectortest: %d check(s) skipped:\n  %s", len(skipped), strings.Join(skipped, "\n  "))
	}
	// A process that died between calls shows only as a restart.
	if died := int64(d.deaths()); died > k.deathsReported.Load() {
		failures.Add(1)
		t.Errorf("connectortest: the plugin process died %d time(s) during the checks and was restarted by the host", died)
	}
	if failures.Load() > 0 {
		if log := strings.TrimSpace(d.log()); log != "" {
			t.Logf("log of the host and the plugin (newest lines last):\n%s", log)
		}
	}
}

// kit is one run of the checks against one target.
type kit struct {
	opts Options
	d    driver
	meta sdk.Metadata

	// configured says the connector accepted Options.ValidConfig (validRaw, as
	// JSON); setUpErr why not.
	configured bool
	validRaw   []byte
	setUpErr   error

	// code is the authorization code sent in callbacks: no error may repeat it.
	code string
	// deathsReported counts the calls that failed because the plugin process died.
	deathsReported atomic.Int64

	// leaks are the secrets, codes and tokens seen in errors and logs, by check;
	// logMark is where the log stood when the current check began.
	leaks   leakWatch
	logMark int64
	// signInFailed says signin/complete failed: the checks that need a working
	// sign-in skip rather than report the same defect again.
	signInFailed atomic.Bool
	// exchangeRefused says signin/pkce saw the provider refuse a code for its
	// code_verifier: no sign-in gets past the token endpoint, which it named.
	exchangeRefused atomic.Bool
	// profiles are what the profiles of the run's sign-ins carried that no
	// profile may, for secrets/profile.
	profiles profileWatch
	// skips are the checks that skipped, with why.
	skips skipList
}

// skipList records skipped checks, for the summary at the end of Run.
type skipList struct {
	mu    sync.Mutex
	items []string
}

func (l *skipList) add(check, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, check+": "+why)
}

func (l *skipList) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.items...)
}

// skipping records why a check skipped; under Options.Strict the skip is a failure.
type skipping struct {
	T
	check  string
	skips  *skipList
	strict bool
}

// skipAfterFailure skips a check that cannot run because the check named by
// failed, and named the defect: a skip even under Options.Strict, whose run
// fails already, so that one defect is not reported once for every check
// built on it. When Options.Skip turned that check off, nothing reported the
// defect, and Strict makes the skip a failure as any other.
func (k *kit) skipAfterFailure(t T, by, format string, args ...any) {
	t.Helper()
	s, ok := t.(skipping)
	if _, off := k.skipReason(check{name: by}); !ok || off {
		t.Skipf(format, args...)
		return
	}
	why := fmt.Sprintf(format, args...)
	s.skips.add(s.check, why)
	s.T.Skipf("%s", why)
}

func (s skipping) Skipf(format string, args ...any) {
	s.T.Helper()
	why := fmt.Sprintf(format, args...)
	if s.strict {
		s.T.Fatalf("skipped, and Options.Strict makes a skip a failure (Options.Skip turns a check off on purpose): %s", why)
		return
	}
	s.skips.add(s.check, why)
	s.T.Skipf("%s", why)
}

// setUp configures the connector with ValidConfig, for the checks that need it.
func (k *kit) setUp(t T) {
	if k.opts.ValidConfig == nil {
		k.setUpErr = fmt.Errorf("Options.ValidConfig is not set: give a complete configuration that ParseConfig accepts")
		return
	}
	raw, err := json.Marshal(k.opts.ValidConfig)
	if err != nil {
		k.setUpErr = fmt.Errorf("Options.ValidConfig does not encode to JSON: %v", err)
		return
	}
	if err := k.d.parseConfig(t.Context(), raw); err != nil {
		k.setUpErr = fmt.Errorf("ParseConfig refused Options.ValidConfig: %s", describe(err))
		return
	}
	if err := k.d.configure(t.Context(), raw); err != nil {
		k.setUpErr = fmt.Errorf("the host refused Options.ValidConfig: %s", describe(err))
		return
	}
	k.configured, k.validRaw = true, raw
}

// need is what a check needs besides the connector.
type need int

const (
	needNothing  need = iota
	needConfig        // ValidConfig accepted
	needProvider      // ValidConfig accepted and Options.Provider set
)

type check struct {
	name  string
	doc   string
	needs need
	run   func(k *kit, t T)
}

func knownCheck(name string) bool {
	for _, c := range checks {
		if c.name == name || strings.HasPrefix(c.name, name+"/") {
			return true
		}
	}
	return false
}

// skipReason returns why Options.Skip turns c off, if it does.
func (k *kit) skipReason(c check) (string, bool) {
	if why, ok := k.opts.Skip[c.name]; ok {
		return why, true
	}
	group, _, _ := strings.Cut(c.name, "/")
	why, ok := k.opts.Skip[group]
	return why, ok
}

// run runs one check as a subtest.
func (k *kit) run(t T, c check, failures *atomic.Int64) {
	t.Helper()
	subtest(t, c.name, func(st T) {
		k.leaks.mu.Lock()
		k.leaks.check = c.name
		k.leaks.mu.Unlock()
		k.logMark = k.d.logMark()
		defer func() { k.watch("a log line", k.d.logSince(k.logMark)) }()
		st = counting{T: st, failures: failures}
		if why, ok := k.skipReason(c); ok {
			k.skips.add(c.name, "turned off in Options.Skip ("+why+")")
			st.Skipf("skipped by Options.Skip: %s", why)
		}
		st = skipping{T: st, check: c.name, skips: &k.skips, strict: k.opts.Strict}
		switch {
		case c.needs >= needConfig && !k.configured:
			k.skipAfterFailure(st, "config/valid", "needs a configuration the connector accepts (see config/valid): %v", k.setUpErr)
		case c.needs >= needProvider && k.opts.Provider == nil:
			st.Skipf("set Options.Provider, with ValidConfig pointing at it, to sign in through a fake provider")
		}
		c.run(k, st)
	})
}

// describe renders an error for a failure message, field by field for a config error.
func describe(err error) string {
	var ce *sdk.ConfigError
	if asConfigError(err, &ce) {
		parts := make([]string, len(ce.Fields))
		for i, f := range ce.Fields {
			parts[i] = fmt.Sprintf("%s: %s", f.Field, f.Message)
		}
		return "field errors [" + strings.Join(parts, "; ") + "]"
	}
	return err.Error()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sortedKeys returns m's keys in order, so checks run and report the same way each time.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
