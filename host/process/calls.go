package process

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Instance is a configured connector instance as the host sends it to its plugin.
type Instance struct {
	ID string
	// Version identifies Config (a digest); it must change whenever Config does.
	Version string
	// Config is the instance's JSON configuration.
	Config []byte
}

// ValidateConfig asks the plugin whether inst's configuration is valid. A nil slice
// means it is.
func (p *Process) ValidateConfig(ctx context.Context, inst Instance) ([]sdk.FieldError, error) {
	v, err := p.Validate(ctx, inst)
	if err != nil {
		return nil, err
	}
	return v.Fields, nil
}

// Validation is a plugin's answer about one configuration.
type Validation struct {
	// Fields are the problems; none when the configuration is valid.
	Fields []sdk.FieldError
	// Template is how the configuration's authorization URLs are made, when the
	// plugin declared it (unchecked: the caller checks it); nil otherwise.
	Template *sdk.AuthorizationTemplate
	// Provider is who honours the configuration's tokens, as the plugin
	// names it (unchecked: the caller checks it); empty when it does not.
	Provider string
}

// Validate asks the plugin whether inst's configuration is valid and, when it is,
// for the authorization template the plugin declares for it.
func (p *Process) Validate(ctx context.Context, inst Instance) (*Validation, error) {
	var resp *connectorv1.ValidateConfigResponse
	err := p.invoke(ctx, "ValidateConfig", &inst, true, func(ctx context.Context, c *conn, in *connectorv1.Instance, limit grpc.CallOption) (err error) {
		resp, err = c.rpc.ValidateConfig(ctx, &connectorv1.ValidateConfigRequest{Instance: in}, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	v := &Validation{Fields: configProblems(resp.GetErrors())}
	if len(v.Fields) == 0 {
		v.Template = sdk.Wire.AuthorizationTemplateFromProto(resp.GetAuthorizationTemplate())
		v.Provider = resp.GetProvider()
	}
	return v, nil
}

// AuthorizationURI asks for the URL that starts a sign-in.
func (p *Process) AuthorizationURI(ctx context.Context, inst Instance, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	a, err := p.Authorize(ctx, inst, req)
	if err != nil {
		return nil, err
	}
	return a.Authorization, nil
}

// Authorized is a plugin's answer to an authorization request.
type Authorized struct {
	*sdk.Authorization
	// Template is how the plugin says its next URLs are made, for ValidFor (an
	// hour at most); unchecked: the caller checks it. nil when it says nothing.
	Template *sdk.AuthorizationTemplate
	ValidFor time.Duration
}

// Authorize asks for the URL that starts a sign-in, and for the template the
// plugin says its next ones are made with, if any.
func (p *Process) Authorize(ctx context.Context, inst Instance, req sdk.AuthorizationRequest) (*Authorized, error) {
	var resp *connectorv1.GetAuthorizationUriResponse
	err := p.invoke(ctx, "GetAuthorizationUri", &inst, true, func(ctx context.Context, c *conn, in *connectorv1.Instance, limit grpc.CallOption) (err error) {
		resp, err = c.rpc.GetAuthorizationUri(ctx, sdk.Wire.AuthorizationRequestToProto(in, req), limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	a := &Authorized{Authorization: &sdk.Authorization{RedirectTo: resp.GetRedirectTo(), Session: resp.GetSession()}}
	if ms := resp.GetTemplateValidForMs(); ms > 0 && resp.GetAuthorizationTemplate() != nil {
		a.Template = sdk.Wire.AuthorizationTemplateFromProto(resp.GetAuthorizationTemplate())
		a.ValidFor = time.Duration(min(ms, sdk.MaxTemplateValidity.Milliseconds())) * time.Millisecond
	}
	return a, nil
}

// UserInfo hands the provider's callback to the plugin. It is never retried: the
// callback carries a one-time authorization code.
func (p *Process) UserInfo(ctx context.Context, inst Instance, session sdk.Session, callback map[string]string) (*sdk.UserInfoResult, error) {
	var resp *connectorv1.GetUserInfoResponse
	err := p.invoke(ctx, "GetUserInfo", &inst, false, func(ctx context.Context, c *conn, in *connectorv1.Instance, limit grpc.CallOption) (err error) {
		resp, err = c.rpc.GetUserInfo(ctx, &connectorv1.GetUserInfoRequest{Instance: in, Session: session, Callback: callback}, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := p.checkUserInfo(resp); err != nil {
		return nil, err
	}
	return &sdk.UserInfoResult{UserInfo: sdk.Wire.UserInfoFromProto(resp.GetUserInfo()), Tokens: sdk.Wire.TokenSetFromProto(resp.GetTokens())}, nil
}

// RefreshTokens exchanges a refresh token for a new token set. Not retried: a
// provider may rotate refresh tokens on use.
func (p *Process) RefreshTokens(ctx context.Context, inst Instance, refreshToken string) (*sdk.TokenSet, error) {
	var resp *connectorv1.RefreshTokensResponse
	err := p.invoke(ctx, "RefreshTokens", &inst, false, func(ctx context.Context, c *conn, in *connectorv1.Instance, limit grpc.CallOption) (err error) {
		resp, err = c.rpc.RefreshTokens(ctx, &connectorv1.RefreshTokensRequest{Instance: in, RefreshToken: refreshToken}, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := p.checkRefreshed(resp.GetTokens()); err != nil {
		return nil, err
	}
	return sdk.Wire.TokenSetFromProto(resp.GetTokens()), nil
}

// RevokeToken asks the provider to revoke a token. Retried like an idempotent
// call: revoking twice is harmless.
func (p *Process) RevokeToken(ctx context.Context, inst Instance, token, hint string) error {
	return p.invoke(ctx, "RevokeToken", &inst, true, func(ctx context.Context, c *conn, in *connectorv1.Instance, limit grpc.CallOption) error {
		_, err := c.rpc.RevokeToken(ctx, &connectorv1.RevokeTokenRequest{Instance: in, Token: token, TokenTypeHint: hint}, limit)
		return err
	})
}

// ReleaseInstances tells the plugin that insts (with the versions it was sent)
// left its configuration, so it can drop what it holds for them. It never starts
// a process: one that is not running holds nothing. A plugin built before this
// call answers with CodeNotImplemented.
func (p *Process) ReleaseInstances(ctx context.Context, insts []Instance) error {
	if len(insts) == 0 {
		return nil
	}
	if err := p.enter(); err != nil {
		return err
	}
	defer p.leave()
	c := p.cur.Load()
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	req := &connectorv1.ReleaseInstancesRequest{Instances: make([]*connectorv1.Instance, len(insts))}
	for i, inst := range insts {
		req.Instances[i] = &connectorv1.Instance{Id: inst.ID, ConfigVersion: inst.Version}
		// The next call of this version, should it come back, carries its configuration again.
		c.known.CompareAndDelete(inst.ID, inst.Version)
	}
	_, err := c.rpc.ReleaseInstances(ctx, req, smallReply) // its answer is empty
	if st, _ := status.FromError(err); err != nil && st.Code() == codes.Unimplemented && connectorErrorDetail(st) == nil {
		return &sdk.Error{Code: sdk.CodeNotImplemented, Message: fmt.Sprintf("plugin %s does not take instance releases", p.name)}
	}
	if err != nil {
		return decodeError(err)
	}
	return nil
}

// invoke runs one call with the call deadline. The instance's configuration rides
// along only when the process has not seen its version. A call that may be repeated
// safely (idempotent) is retried once on a fresh process when the old one died.
func (p *Process) invoke(ctx context.Context, method string, inst *Instance, idempotent bool,
	call func(context.Context, *conn, *connectorv1.Instance, grpc.CallOption) error) error {
	if err := p.enter(); err != nil {
		return err
	}
	defer p.leave()
	limit, full := p.replies.reserve()
	if full {
		defer p.replies.release()
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()

	retriedDead, resentConfig := false, false
	for {
		c, err := p.current(ctx)
		if err != nil {
			return err
		}
		in := &connectorv1.Instance{Id: inst.ID, ConfigVersion: inst.Version}
		if v, ok := c.known.Load(inst.ID); !ok || v != inst.Version {
			in.Config = inst.Config
		}
		err = call(ctx, c, in, limit)
		if err == nil {
			if in.Config != nil {
				c.known.Store(inst.ID, inst.Version)
			}
			return nil
		}

		st, _ := status.FromError(err)
		detail := connectorErrorDetail(st)
		switch {
		case detail != nil && detail.GetConfigRequired() && !resentConfig:
			// The process lost this configuration (or never had it): send it again.
			c.known.Delete(inst.ID)
			resentConfig = true
			continue
		case detail != nil:
			return pluginError(detail)
		case st.Code() == codes.Unavailable || st.Code() == codes.Canceled && ctx.Err() == nil:
			// The connection is gone: the process died or stopped answering.
			p.broken(c)
			if idempotent && !retriedDead {
				retriedDead = true
				continue
			}
			return &sdk.Error{Code: CodePluginUnavailable,
				Message: fmt.Sprintf("plugin %s stopped during %s; it is being restarted", p.name, method)}
		case st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max"):
			return &sdk.Error{Code: sdk.CodeGeneral, Message: p.tooLarge(method, full)}
		case errors.Is(ctx.Err(), context.DeadlineExceeded) || st.Code() == codes.DeadlineExceeded:
			return &sdk.Error{Code: CodePluginTimeout,
				Message: fmt.Sprintf("plugin %s did not answer %s within %s", p.name, method, p.opts.CallTimeout)}
		case ctx.Err() != nil:
			return &sdk.Error{Code: sdk.CodeGeneral, Message: fmt.Sprintf("%s to plugin %s was canceled", method, p.name)}
		default:
			// No connector error: the call failed in gRPC (a reply it refused, a
			// status the plugin set by hand). Say whose call it was.
			return &sdk.Error{Code: sdk.CodeGeneral, Message: boundText(fmt.Sprintf("plugin %s failed %s: %s: %s", p.name, method, st.Code(), st.Message()))}
		}
	}
}

func connectorErrorDetail(st *status.Status) *connectorv1.ConnectorError {
	if st == nil {
		return nil
	}
	for _, d := range st.Details() {
		if ce, ok := d.(*connectorv1.ConnectorError); ok {
			return ce
		}
	}
	return nil
}

// decodeError turns a gRPC error into a connector error, using the ConnectorError
// detail when the plugin sent one.
func decodeError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return &sdk.Error{Code: sdk.CodeGeneral, Message: boundText(err.Error())}
	}
	if d := connectorErrorDetail(st); d != nil {
		return pluginError(d)
	}
	return callFailed(st)
}
