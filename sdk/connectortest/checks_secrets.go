package connectortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/idplug/idplug/sdk"
)

// minNeedle is the shortest value the kit looks for: a shorter "secret" (such as a
// test's "s") would be found by chance.
const minNeedle = 8

// needle is a value that must never show in an error or a log line.
type needle struct{ value, what string }

// leak is one place where a needle showed.
type leak struct{ check, where, what string }

// leakWatch collects the leaks of a run, check by check, for secrets/never-shown.
type leakWatch struct {
	mu      sync.Mutex
	check   string
	planted []needle
	leaks   []leak
}

// needles are the values no error or log line may carry: the kit's authorization
// code, every code and token the fake provider issued, the provider's client secret
// and the value of every confidential item of ValidConfig.
func (k *kit) needles() []needle {
	out := k.secretNeedles()
	if p := k.opts.Provider; p != nil {
		for _, v := range p.Issued() {
			out = append(out, needle{v, "a code or token the provider issued"})
		}
	}
	k.leaks.mu.Lock()
	out = append(out, k.leaks.planted...)
	k.leaks.mu.Unlock()
	return out
}

// secretNeedles are the needles that the provider did not issue: the kit's
// authorization code, the value of every confidential item of ValidConfig and the
// provider's client secret.
func (k *kit) secretNeedles() []needle {
	out := []needle{{k.code, "the authorization code of a callback"}}
	for _, f := range k.meta.FormItems {
		if v, ok := k.opts.ValidConfig[f.Key].(string); ok && f.Confidential && len(v) >= minNeedle {
			out = append(out, needle{v, fmt.Sprintf("the value of the confidential item %q", f.Key)})
		}
	}
	if p := k.opts.Provider; p != nil {
		if s := p.ClientSecret(); len(s) >= minNeedle {
			out = append(out, needle{s, "the provider's client secret"})
		}
	}
	return out
}

// watch looks for needles in text, which came from where during the current check.
func (k *kit) watch(where, text string) {
	if text == "" {
		return
	}
	for _, n := range k.needles() {
		if strings.Contains(text, n.value) {
			k.leaks.mu.Lock()
			k.leaks.leaks = append(k.leaks.leaks, leak{k.leaks.check, where, n.what})
			k.leaks.mu.Unlock()
		}
	}
}

// watchError looks for needles in everything an error shows: its message and details.
func (k *kit) watchError(method string, err error) {
	if err == nil || defect(err) {
		return
	}
	k.watch("the error of "+method, errorText(err))
}

// watched is a driver whose every error goes past the kit's leak watch.
type watched struct {
	driver
	k *kit
}

func (w watched) parseConfig(ctx context.Context, raw []byte) error {
	err := w.driver.parseConfig(ctx, raw)
	w.k.watchError("ParseConfig", err)
	return err
}

func (w watched) configure(ctx context.Context, raw []byte) error {
	err := w.driver.configure(ctx, raw)
	w.k.watchError("ParseConfig", err)
	return err
}

func (w watched) authorizationURI(ctx context.Context, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	auth, err := w.driver.authorizationURI(ctx, req)
	w.k.watchError("AuthorizationURI", err)
	if auth != nil {
		// The URL goes to the browser, its history, the provider's logs and
		// any page's Referer: a client secret there is everyone's.
		for _, v := range decodings(auth.RedirectTo) {
			w.k.watch("the authorization URL", v.text)
		}
	}
	return auth, err
}

func (w watched) userInfo(ctx context.Context, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	res, err := w.driver.userInfo(ctx, req)
	w.k.watchError("UserInfo", err)
	if err == nil {
		w.k.watchProfile(res)
	}
	return res, err
}

func (w watched) refresh(ctx context.Context, refreshToken string) (*sdk.TokenSet, error) {
	tokens, err := w.driver.refresh(ctx, refreshToken)
	w.k.watchError("Refresh", err)
	return tokens, err
}

// checkSecretsNeverShown provokes config errors with a planted secret in every
// confidential item, then reports every leak the watch saw in this run: in the
// errors of every call and in the log lines written during every check.
func checkSecretsNeverShown(k *kit, t T) {
	if k.configured {
		provokeConfigErrors(k, t)
	}
	k.watch("the log", k.d.logSince(k.logMark))
	k.leaks.mu.Lock()
	leaks := append([]leak(nil), k.leaks.leaks...)
	k.leaks.mu.Unlock()
	seen := map[leak]bool{}
	for _, l := range leaks {
		if seen[l] {
			continue
		}
		seen[l] = true
		t.Errorf("%s: %s shows %s; messages, details, log lines and authorization URLs must never carry secrets, codes or tokens", l.check, l.where, l.what)
	}
}

// checkSecretsNeverPrinted makes the calls of callsThatMayPrint in process,
// and reads what the process wrote to its standard output and error meanwhile.
// A plugin's standard error is its host's log: a print left in a connector
// from debugging (log.Printf of the token answer) puts the client secret or a
// person's tokens there, past sdk.Logger, whose lines the kit reads anyway.
// Through the host, the kit reads the host's log, and secrets/never-shown with
// it.
func checkSecretsNeverPrinted(k *kit, t T) {
	if !k.d.inProcess() {
		k.inapplicable(t, "the plugin runs in a process of its own, whose standard error is in the host's log, which secrets/never-shown reads")
	}
	stdout, stderr, err := printedDuring(func() { k.callsThatMayPrint(t) })
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		k.inapplicable(t, "the kit reads what the process prints on Unix only")
	case err != nil:
		t.Fatalf("connectortest: reading the process's standard output and error: %v", err)
	}
	needles := k.needles()
	for _, out := range []struct{ name, text string }{{"standard output", stdout}, {"standard error", stderr}} {
		reported := map[string]bool{}
		for _, n := range needles {
			if strings.Contains(out.text, n.value) && !reported[n.what] {
				reported[n.what] = true
				t.Errorf("the process's %s shows %s, printed while the connector parsed its configuration, made an authorization URL, signed in or refreshed: a plugin's standard error is its host's log; say what a connector has to say through sdk.Logger, and never a secret, code or token", out.name, n.what)
			}
		}
	}
}

// callsThatMayPrint parses ValidConfig, asks for an authorization URL and,
// with a provider, signs in and refreshes the tokens it gets back. A call that
// fails is another check's to report.
func (k *kit) callsThatMayPrint(t T) {
	ctx := t.Context()
	_ = k.d.parseConfig(ctx, k.validRaw)
	auth, err := k.authorize(t, newState(), k.opts.redirectURI())
	if err != nil || k.opts.Provider == nil {
		return
	}
	callback, err := k.opts.Provider.Authorize(auth.RedirectTo)
	if err != nil {
		return
	}
	res, err := k.finish(t, auth.Session, callback)
	if err == nil && res.Tokens != nil && res.Tokens.RefreshToken != "" {
		_, _ = k.d.refresh(ctx, res.Tokens.RefreshToken)
	}
}

// provokeConfigErrors sends ParseConfig ValidConfig with a planted secret in every
// confidential item and every other item broken, so that it has much to say, then
// with the secrets alone.
func provokeConfigErrors(k *kit, t T) {
	secret := "connectortest-planted-" + randomHex(16)
	k.leaks.mu.Lock()
	k.leaks.planted = append(k.leaks.planted, needle{secret, "the value of a confidential item"})
	k.leaks.mu.Unlock()
	broken, secretOnly := map[string]any{}, map[string]any{}
	for key, v := range k.opts.ValidConfig {
		broken[key], secretOnly[key] = v, v
	}
	confidential := 0
	for _, f := range k.meta.FormItems {
		switch {
		case f.Confidential:
			broken[f.Key], secretOnly[f.Key] = secret, secret
			confidential++
		case f.Type != sdk.FormJSON:
			broken[f.Key] = wrongValue
		}
	}
	if confidential == 0 {
		t.Logf("no form item is confidential: no secret planted in the configuration")
		return
	}
	for _, cfg := range []map[string]any{broken, secretOnly} {
		raw, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("connectortest: encoding a configuration: %v", err)
		}
		err = k.d.parseConfig(t.Context(), raw)
		k.defective(t, "ParseConfig with secrets set", err)
	}
}

// checkSecretsRequests runs a sign-in and reads every request the connector
// made to the provider in it. The client secret is the token endpoint's
// alone: a userinfo or API request that
// carries one shows it to a resource server (often another host). And no
// code or token goes in a URL, which every proxy and server log keeps (RFC
// 6750 2.3).
func checkSecretsRequests(k *kit, t T) {
	p := k.opts.Provider
	before := len(p.Requests())
	if k.signedIn(t) == nil {
		return
	}
	// The client secret alone: a confidential item of a connector's own may
	// be an API key its resource API takes.
	var secrets []needle
	if s := p.ClientSecret(); len(s) >= minNeedle {
		secrets = append(secrets, needle{s, "the provider's client secret"})
	}
	tokens := append([]string{k.code}, p.Issued()...)
	reported := map[string]bool{}
	report := func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !reported[msg] {
			reported[msg] = true
			t.Errorf("%s", msg)
		}
	}
	for _, r := range p.Requests()[before:] { // this sign-in's
		where := fmt.Sprintf("the request %s %s", r.Method, r.Path)
		for _, n := range secrets {
			if r.Endpoint == TokenEndpoint {
				break
			}
			for part, values := range map[string]map[string][]string{"headers": r.Header, "query": r.Query, "form": r.Form} {
				if carries(values, n.value) {
					report("%s carries %s in its %s: the client's credentials are for the token endpoint alone", where, n.what, part)
				}
			}
		}
		for _, v := range tokens {
			if len(v) >= minNeedle && carries(r.Query, v) {
				report("%s carries a code or token in its URL, which every proxy and server log keeps: send tokens in the Authorization header, codes in the form", where)
			}
		}
	}
}

// carries says whether any value of m holds s.
func carries(m map[string][]string, s string) bool {
	for _, vs := range m {
		for _, v := range vs {
			if strings.Contains(v, s) {
				return true
			}
		}
	}
	return false
}
