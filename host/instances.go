package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk"
)

// InstanceConfig is one configured connector instance: which plugin serves it,
// under which target, and the configuration the plugin validates.
type InstanceConfig struct {
	// ID names the instance: [a-z0-9][a-z0-9-]*, unique.
	ID string
	// Plugin is the metadata id of the plugin that serves it.
	Plugin string
	// Target is the identity provider's name; unique among instances; defaults to ID.
	Target string
	// Display overrides; empty values keep the plugin's.
	Name     sdk.I18n
	Logo     string
	LogoDark string
	// Config is handed to the plugin, which validates it.
	Config json.RawMessage
	// Mapping, when set, shapes every profile the plugin returns (see
	// host/mapping); nil keeps the plugin's profile as it is.
	Mapping *mapping.Mapping
}

// UserInfoResult is a finished sign-in: the profile after the instance's
// mapping, the tokens, and the claims the mapping adds (empty without one).
type UserInfoResult struct {
	sdk.UserInfoResult
	Claims map[string]any
}

// Instance is a configured connector instance as clients see it.
type Instance struct {
	ID         string       `json:"id"`
	Plugin     string       `json:"plugin"`
	Target     string       `json:"target"`
	Platform   sdk.Platform `json:"platform"`
	Name       sdk.I18n     `json:"name"`
	Logo       string       `json:"logo"`
	LogoDark   string       `json:"logoDark"`
	IsStandard bool         `json:"isStandard"`
	// OperatorLogo: Logo is the configuration's, not the plugin's metadata.
	// idplug's own page shows a plugin's logo only as a data: URL, so that
	// no plugin author learns who opens the page.
	OperatorLogo bool `json:"-"`
}

// InstanceDetail adds what a configuration page needs.
type InstanceDetail struct {
	Instance
	Description sdk.I18n       `json:"description"`
	Readme      string         `json:"readme"`
	FormItems   []sdk.FormItem `json:"formItems"`
	// Mapping names the instance's mapping (mapping.Fingerprint): "" without
	// one. Browser sessions keep it, so that a reload that changes how
	// profiles are mapped (an allow rule that now refuses a user) ends the
	// sessions mapped the old way. Not part of the API's answer.
	Mapping string `json:"-"`
}

// instance is a configured instance. Its plugin is looked up by id on every call,
// so a replaced plugin binary serves it at once.
type instance struct {
	cfg  InstanceConfig
	inst process.Instance
	// template is how the plugin said this configuration's authorization URLs
	// are made; the host builds them itself while templateFrom, the process
	// that said so, serves the instance. nil: every URL is asked for.
	template     *sdk.AuthorizationTemplate
	templateFrom *process.Process
	// current is a template the plugin sent with an authorization URL (one
	// whose endpoint it found by discovery): the host builds from it too, until
	// it runs out.
	current atomic.Pointer[currentTemplate]
	// provider is who honours this configuration's tokens, as its plugin named
	// it when it checked the configuration (see sdk.ProviderIdentifier).
	provider string
}

// tokensProvider names who honours the instance's tokens, for the vault's
// binding: the plugin's id, a newline, and the provider the plugin named.
func (c *instance) tokensProvider() string { return c.cfg.Plugin + "\n" + c.provider }

// currentTemplate is a template a plugin reported while serving, and until
// when the host may build from it while the launch of from that reported it
// serves the instance: a process restarted after a crash (or a kill) reports
// its own, and cannot inherit one its predecessor planted.
type currentTemplate struct {
	t      *sdk.AuthorizationTemplate
	from   *process.Process
	launch any
	until  time.Time
}

// Instances lists the configured instances in configuration order.
func (h *Host) Instances() []Instance {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Instance, 0, len(h.order))
	for _, id := range h.order {
		out = append(out, h.describe(h.instances[id]).Instance)
	}
	return out
}

// Instance describes one configured instance.
func (h *Host) Instance(id string) (InstanceDetail, error) {
	c, err := h.instance(id)
	if err != nil {
		return InstanceDetail{}, err
	}
	return h.describe(c), nil
}

// CheckInstance says whether instance id is configured: nil, or the
// connector_not_found error that a call to it would return.
func (h *Host) CheckInstance(id string) error {
	_, err := h.instance(id)
	return err
}

// describe merges the plugin's current metadata with the instance's overrides.
func (h *Host) describe(c *instance) InstanceDetail {
	meta, _ := h.Metadata(c.cfg.Plugin)
	return InstanceDetail{
		Instance: Instance{
			ID:           c.cfg.ID,
			Plugin:       c.cfg.Plugin,
			Target:       c.cfg.Target,
			Platform:     meta.Platform,
			Name:         mergeI18n(meta.Name, c.cfg.Name),
			Logo:         firstNonEmpty(c.cfg.Logo, meta.Logo),
			LogoDark:     firstNonEmpty(c.cfg.LogoDark, meta.LogoDark),
			IsStandard:   meta.IsStandard,
			OperatorLogo: c.cfg.Logo != "",
		},
		Description: meta.Description,
		Readme:      meta.Readme,
		FormItems:   meta.FormItems,
		Mapping:     c.cfg.Mapping.Fingerprint(),
	}
}

// AuthorizationOption adjusts one sign-in's authorization request.
type AuthorizationOption func(*sdk.AuthorizationRequest)

// WithScope asks for scope (space-separated) in place of the connector's configured
// scope, for this sign-in only. An empty scope keeps the configured one.
func WithScope(scope string) AuthorizationOption {
	return func(r *sdk.AuthorizationRequest) { r.Scope = scope }
}

// AuthorizationURI starts a sign-in with connector id.
func (h *Host) AuthorizationURI(ctx context.Context, id, redirectURI, state string, opts ...AuthorizationOption) (*sdk.Authorization, error) {
	c, proc, err := h.route(ctx, id)
	if err != nil {
		return nil, err
	}
	defer h.observe(c, "AuthorizationURI", time.Now(), &err)
	req := sdk.AuthorizationRequest{InstanceID: id, RedirectURI: redirectURI, State: state}
	for _, o := range opts {
		o(&req)
	}
	if c.template != nil && c.templateFrom == proc {
		// No call to the plugin: it built from this template itself.
		var auth *sdk.Authorization
		auth, err = c.template.Build(req, nil) // err, not a new one: observe reports it
		return auth, err
	}
	now := h.now()
	if cur := c.current.Load(); cur != nil && cur.from == proc && cur.launch == proc.Launch() && now.Before(cur.until) {
		var auth *sdk.Authorization
		auth, err = cur.t.Build(req, nil)
		return auth, err
	}
	launch := proc.Launch()
	a, err := proc.Authorize(ctx, c.inst, req)
	if err != nil {
		return nil, err
	}
	if a.Template != nil {
		// Checked as a configured template is: its URLs go to browsers.
		if cerr := a.Template.Check(); cerr != nil {
			h.log.Warn("a plugin reported an authorization template that cannot be used; asking it for each URL",
				"plugin", c.cfg.Plugin, "instance", c.cfg.ID, "error", cerr)
		} else {
			c.current.Store(&currentTemplate{t: a.Template, from: proc, launch: launch, until: now.Add(a.ValidFor)})
		}
	}
	return a.Authorization, nil
}

// UserInfo finishes a sign-in with connector id: session is what AuthorizationURI
// returned, callback the provider's callback parameters.
//
// The instance's mapping runs on the plugin's profile here, in the host, so it
// works the same for every plugin: a refusal by its allow rule is an
// authorization_failed error, a failed expression a mapping_failed one.
func (h *Host) UserInfo(ctx context.Context, id string, session sdk.Session, callback map[string]string) (*UserInfoResult, error) {
	c, proc, err := h.route(ctx, id)
	if err != nil {
		return nil, err
	}
	defer h.observe(c, "UserInfo", time.Now(), &err)
	res, err := proc.UserInfo(ctx, c.inst, session, callback)
	if err != nil {
		return nil, err
	}
	// The instance as it is now: a reload may have come while the plugin
	// asked the provider.
	if c, err = h.stillServing(c); err != nil {
		return nil, err
	}
	mapped, err := c.cfg.Mapping.Apply(ctx, res.UserInfo)
	if err != nil {
		return nil, err
	}
	if err := CheckUserID(mapped.UserInfo.ID); err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "connector %s (plugin %s): the profile's id %v", id, c.cfg.Plugin, err)
	}
	res.UserInfo = mapped.UserInfo
	return &UserInfoResult{UserInfoResult: *res, Claims: mapped.Claims}, nil
}

// stillServing is instance c as configured now, for a sign-in whose plugin
// call began before a reload. One that removed the connector, or pointed it
// at another plugin or target, refuses the sign-in: the profile came from
// what the operator took away (a connector found hostile, say), and a
// session made from it would date from after the removal, so it would serve
// again once the id came back. One that changed only its configuration
// keeps it, under the new mapping (an allow rule just tightened holds).
func (h *Host) stillServing(c *instance) (*instance, error) {
	now, err := h.instance(c.inst.ID)
	switch {
	case err != nil:
		return nil, &sdk.Error{Code: CodeInstanceNotFound, Message: fmt.Sprintf(
			"connector %q was removed while this sign-in finished; start again", c.inst.ID)}
	case now.cfg.Plugin != c.cfg.Plugin || now.cfg.Target != c.cfg.Target:
		return nil, &sdk.Error{Code: CodeInstanceNotFound, Message: fmt.Sprintf(
			"connector %q was pointed at another provider while this sign-in finished; start again", c.inst.ID)}
	}
	return now, nil
}

// MaxUserIDLen bounds a profile's id, the key of its sessions and its tokens
// in the store (and of the vault's routes).
const MaxUserIDLen = 512

// CheckUserID refuses an id no provider gives but one answering garbage, or
// its mapping: empty, over MaxUserIDLen, or with a control character. PostgreSQL
// refuses a NUL, and the vault writes records of several sign-ins in one
// statement: one such id would fail the others' writes.
func CheckUserID(id string) error {
	if id == "" {
		return errors.New("is empty") // the SDK refuses it; a plugin without the SDK may not
	}
	if len(id) > MaxUserIDLen {
		return fmt.Errorf("is %d bytes, over the limit of %d", len(id), MaxUserIDLen)
	}
	if !utf8.ValidString(id) {
		return errors.New("is not valid UTF-8")
	}
	for i, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("holds the character %U at byte %d", r, i)
		}
	}
	return nil
}

// MapUserInfo runs instance id's mapping on u, as a sign-in would, without
// calling its plugin: the dry run of a mapping against the running config.
func (h *Host) MapUserInfo(ctx context.Context, id string, u sdk.UserInfo) (mapping.Result, error) {
	c, err := h.instance(id)
	if err != nil {
		return mapping.Result{}, err
	}
	mapped, err := c.cfg.Mapping.Apply(ctx, u)
	if err != nil {
		return mapping.Result{}, err
	}
	// The sign-in refuses what the store cannot key; so does its dry run.
	if err := CheckUserID(mapped.UserInfo.ID); err != nil {
		return mapping.Result{}, sdk.Errorf(sdk.CodeInvalidResponse, "connector %s (plugin %s): the profile's id %v", id, c.cfg.Plugin, err)
	}
	return mapped, nil
}

// RefreshTokens renews a token set with connector id.
func (h *Host) RefreshTokens(ctx context.Context, id, refreshToken string) (*sdk.TokenSet, error) {
	c, proc, err := h.route(ctx, id)
	if err != nil {
		return nil, err
	}
	return h.refresh(ctx, c, proc, refreshToken)
}

// RefreshTokensFor is RefreshTokens for tokens kept for provider (what
// TokensProvider said when they were kept): when connector id names another
// provider now (a reload pointed it elsewhere since), they are not sent.
func (h *Host) RefreshTokensFor(ctx context.Context, id, provider, refreshToken string) (*sdk.TokenSet, error) {
	c, proc, err := h.routeFor(ctx, id, provider)
	if err != nil {
		return nil, err
	}
	return h.refresh(ctx, c, proc, refreshToken)
}

func (h *Host) refresh(ctx context.Context, c *instance, proc *process.Process, refreshToken string) (tokens *sdk.TokenSet, err error) {
	defer h.observe(c, "RefreshTokens", time.Now(), &err)
	return proc.RefreshTokens(ctx, c.inst, refreshToken)
}

// RevokeTokenFor revokes a token at the provider with connector id (RFC
// 7009), for a token kept for provider (as RefreshTokensFor): not sent when id
// names another provider now; not_implemented when the connector cannot revoke.
func (h *Host) RevokeTokenFor(ctx context.Context, id, provider, token, hint string) (err error) {
	c, proc, err := h.routeFor(ctx, id, provider)
	if err != nil {
		return err
	}
	defer h.observe(c, "RevokeToken", time.Now(), &err)
	return proc.RevokeToken(ctx, c.inst, token, hint)
}

// TokensProvider names who honours connector id's tokens now, for the
// vault's binding: the plugin's id, a newline, and the provider the plugin
// named for the configuration (see sdk.ProviderIdentifier).
func (h *Host) TokensProvider(id string) (string, error) {
	c, err := h.instance(id)
	if err != nil {
		return "", err
	}
	return c.tokensProvider(), nil
}

// routeFor is route for a call whose tokens were kept for provider: the
// instance the call is made with must name it.
func (h *Host) routeFor(ctx context.Context, id, provider string) (*instance, *process.Process, error) {
	c, proc, err := h.route(ctx, id)
	if err == nil && c.tokensProvider() != provider {
		return nil, nil, &sdk.Error{Code: sdk.CodeGeneral,
			Message: fmt.Sprintf("connector %s names another provider than the one these tokens were kept for (a reload changed it); they were not sent", id)}
	}
	return c, proc, err
}

func (h *Host) observe(c *instance, rpc string, start time.Time, err *error) {
	if h.opts.OnCall != nil {
		h.opts.OnCall(CallInfo{Instance: c.inst.ID, Plugin: c.cfg.Plugin, RPC: rpc, Duration: time.Since(start), Err: *err})
	}
}

// route finds instance id and the plugin serving it now, starting the plugin
// when it is idle (it failed to start when the instance was configured).
func (h *Host) route(ctx context.Context, id string) (*instance, *process.Process, error) {
	c, err := h.instance(id)
	if err != nil {
		return nil, nil, err
	}
	proc, ok := h.Plugin(c.cfg.Plugin)
	if !ok && h.opts.OnDemand {
		if proc, err = h.Start(ctx, c.cfg.Plugin); err == nil {
			return c, proc, nil
		}
		h.log.Error("starting a connector's plugin", "connector", id, "plugin", c.cfg.Plugin, "error", err)
	}
	if !ok {
		return nil, nil, &sdk.Error{Code: CodePluginUnavailable,
			Message: fmt.Sprintf("connector %s: its plugin %q is not running", id, c.cfg.Plugin)}
	}
	return c, proc, nil
}

func (h *Host) instance(id string) (*instance, error) {
	h.mu.RLock()
	c, ok := h.instances[id]
	h.mu.RUnlock()
	if !ok {
		// Named only when it could be one: an id is a short [a-z0-9-] name,
		// and whatever a client sent in its place is not echoed back whole.
		if len(id) > wire.MaxInstanceIDLen || !instanceIDRE.MatchString(id) {
			return nil, &sdk.Error{Code: CodeInstanceNotFound, Message: fmt.Sprintf(
				"no such connector: an id is %s, at most %d bytes", strings.Trim(instanceIDRE.String(), "^$"), wire.MaxInstanceIDLen)}
		}
		return nil, &sdk.Error{Code: CodeInstanceNotFound, Message: fmt.Sprintf("no connector %q is configured", id)}
	}
	return c, nil
}

func mergeI18n(base, override sdk.I18n) sdk.I18n {
	out := make(sdk.I18n, len(base)+len(override))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
