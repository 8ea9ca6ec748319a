package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idplug/idplug/sdk"
)

// parseTimeout bounds a configuration check: the start of Node it may wait for
// (startTimeout), and the check itself.
const parseTimeout = startTimeout + 10*time.Second

// connector implements sdk.Connector, sdk.Refresher and sdk.Releaser by calls to the bridge.
type connector struct {
	entry  catalogEntry
	bridge *bridge
}

var (
	_ sdk.Connector[*instance]          = (*connector)(nil)
	_ sdk.Refresher[*instance]          = (*connector)(nil)
	_ sdk.Releaser[*instance]           = (*connector)(nil)
	_ sdk.ProviderIdentifier[*instance] = (*connector)(nil)
)

// providerKeys are the configuration fields of Logto's connectors that name
// the provider account tokens come from: the client (clientId; WeChat's
// appId), Azure AD's tenant and cloud, the generic OAuth connector's token
// endpoint. A scope, a prompt or a profile mapping is none of them.
var providerKeys = []string{"clientId", "appId", "tenantId", "cloudInstance", "tokenEndpoint"}

// ProviderIdentity names the provider account from the configuration's
// providerKeys, so that a reload pointing an instance at another client or
// endpoint ends its browser sessions, provider grants, flows and vault
// records, as the native connectors' do. Without it they had been tied to
// the plugin's id alone.
func (c *connector) ProviderIdentity(in *instance) string {
	var cfg map[string]json.RawMessage
	if json.Unmarshal(in.raw, &cfg) != nil {
		return ""
	}
	var b strings.Builder
	for _, k := range providerKeys {
		if v, ok := cfg[k]; ok {
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v)
			}
			b.WriteString(k + "=" + s + " ")
		}
	}
	id := strings.TrimSpace(b.String())
	if len(id) > sdk.MaxProviderIdentity || !utf8.ValidString(id) {
		sum := sha256.Sum256([]byte(id))
		return "sha256=" + hex.EncodeToString(sum[:])
	}
	return id
}

// releaseTimeout bounds telling Node to drop an instance.
const releaseTimeout = 10 * time.Second

// instance is one configured instance: its JSON, checked by the connector's own guard,
// and a digest that tells the bridge when it changed.
type instance struct {
	raw     json.RawMessage
	version string
}

func newConnector(b *bundle, entry catalogEntry, hosts map[string]string) (*connector, error) {
	entry.Metadata.ID = "logto-" + entry.Metadata.ID
	entry.Metadata.EgressHosts = providerHosts[entry.Package]
	return &connector{entry: entry, bridge: &bridge{bundle: b, pkg: entry.Package, testHosts: hosts}}, nil
}

// Metadata comes from the bundle's catalog: no Node runs for it.
func (c *connector) Metadata() sdk.Metadata { return c.entry.Metadata }

// ParseConfig has the connector's own guard check raw (this starts Node the first
// time a plugin sees a configured instance). The SDK gives it no context, for a
// host's check or for any call carrying a configuration this process has not seen
// (as every call does after the plugin restarted), so parseTimeout bounds it: it
// waits for the start under way, never one of its own after that one failed, and
// within the spacing it gets the last start's error at once, unless no start has
// answered for this configuration yet (see proc).
func (c *connector) ParseConfig(raw []byte) (*instance, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil || probe == nil {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "the configuration must be a JSON object")
	}
	ctx, cancel := context.WithTimeout(context.Background(), parseTimeout)
	defer cancel()
	sum := sha256.Sum256(raw)
	version := hex.EncodeToString(sum[:])
	if err := c.bridge.callFor(ctx, version, "validate", map[string]any{"config": json.RawMessage(raw)}, nil); err != nil {
		return nil, err
	}
	return &instance{raw: append(json.RawMessage(nil), raw...), version: version}, nil
}

func (c *connector) instanceRequest(id string, in *instance) map[string]any {
	return map[string]any{"instance": id, "version": in.version, "config": in.raw}
}

func (c *connector) AuthorizationURI(ctx context.Context, in *instance, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	if req.State == "" || req.RedirectURI == "" {
		return nil, sdk.Errorf(sdk.CodeInsufficientRequestParameters, "the authorization request needs a state and a redirect URI")
	}
	msg := c.instanceRequest(req.InstanceID, in)
	msg["payload"] = authorizationPayload(req)
	var out struct {
		RedirectTo string      `json:"redirectTo"`
		Session    sdk.Session `json:"session"`
	}
	if err := c.bridge.call(ctx, "authorize", msg, &out); err != nil {
		return nil, err
	}
	return &sdk.Authorization{RedirectTo: out.RedirectTo, Session: out.Session}, nil
}

func (c *connector) UserInfo(ctx context.Context, in *instance, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	msg := c.instanceRequest(req.InstanceID, in)
	msg["session"], msg["data"] = nonNil(req.Session), nonNil(req.Callback)
	var out struct {
		UserInfo sdk.UserInfo  `json:"userInfo"`
		Tokens   *sdk.TokenSet `json:"tokens"`
	}
	if err := c.bridge.call(ctx, "userinfo", msg, &out); err != nil {
		return nil, err
	}
	return &sdk.UserInfoResult{UserInfo: out.UserInfo, Tokens: out.Tokens}, nil
}

func (c *connector) Refresh(ctx context.Context, in *instance, refreshToken string) (*sdk.TokenSet, error) {
	if !c.entry.Refresh {
		return nil, sdk.Errorf(sdk.CodeNotImplemented, "%s cannot refresh tokens", c.entry.Package)
	}
	// Refresh names no instance: the configuration's version stands for it.
	msg := c.instanceRequest("refresh:"+in.version, in)
	msg["refreshToken"] = refreshToken
	var out struct {
		Tokens *sdk.TokenSet `json:"tokens"`
	}
	if err := c.bridge.call(ctx, "refresh", msg, &out); err != nil {
		return nil, err
	}
	if out.Tokens == nil {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the connector returned no tokens")
	}
	return out.Tokens, nil
}

// Release has Node drop the connector object it made for the instance at this
// configuration, and the one made for refreshes with it. Node is not started for
// this: one that is not running holds neither.
func (c *connector) Release(ctx context.Context, id string, in *instance) {
	p := c.bridge.running()
	if p == nil {
		sdk.Logger(ctx).Debug("Node is not running: nothing to release")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	defer cancel()
	var out struct {
		Dropped []string `json:"dropped"`
	}
	err := p.call(ctx, "release", map[string]any{"instance": id, "version": in.version}, &out)
	switch {
	case errors.Is(err, errNodeGone):
		// It died before its exit was noticed; the next call starts a new one, empty.
		sdk.Logger(ctx).Debug("Node is not running: nothing to release")
		return
	case err != nil:
		sdk.Logger(ctx).Debug("Node did not release the instance", "error", err)
		return
	}
	if len(out.Dropped) > 0 {
		sdk.Logger(ctx).Info("released instance "+id+" in Node", "objects", len(out.Dropped))
	}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
