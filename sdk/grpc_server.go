package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/idplug/idplug/internal/printable"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcServer adapts a Connector to the wire service. It is the only place where the
// author's plain Go code meets gRPC.
type grpcServer[C any] struct {
	connectorv1.UnimplementedConnectorServiceServer

	conn      Connector[C]
	metadata  *connectorv1.Metadata
	instances *instanceCache[C]
	log       *slog.Logger
}

func newGRPCServer[C any](c Connector[C], log *slog.Logger) (*grpcServer[C], error) {
	meta, err := Wire.MetadataToProto(c.Metadata())
	if err != nil {
		return nil, err
	}
	s := &grpcServer[C]{conn: c, metadata: meta, instances: newInstanceCache(c.ParseConfig), log: log}
	if r, ok := c.(Releaser[C]); ok {
		s.instances.drop = func(ctx context.Context, id string, cfg C) { s.safeRelease(ctx, r, id, cfg) }
	}
	return s, nil
}

func (s *grpcServer[C]) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.GetMetadataResponse, error) {
	return &connectorv1.GetMetadataResponse{Metadata: s.metadata}, nil
}

func (s *grpcServer[C]) ValidateConfig(ctx context.Context, req *connectorv1.ValidateConfigRequest) (*connectorv1.ValidateConfigResponse, error) {
	cfg, err := s.instances.get(ctx, req.GetInstance())
	var ce *ConfigError
	switch {
	case err == nil:
		return &connectorv1.ValidateConfigResponse{
			AuthorizationTemplate: s.template(req.GetInstance().GetId(), cfg),
			Provider:              s.provider(req.GetInstance().GetId(), cfg),
		}, nil
	case errors.As(err, &ce):
		resp := &connectorv1.ValidateConfigResponse{}
		for _, f := range ce.Fields { // UTF-8, or the reply does not marshal
			resp.Errors = append(resp.Errors, &connectorv1.FieldError{Field: validUTF8(f.Field), Message: validUTF8(f.Message)})
		}
		return resp, nil
	default:
		return nil, toStatus(err)
	}
}

// provider is the connector's ProviderIdentity for cfg, when it has one. One
// the host would refuse (too long, not UTF-8) is left out and logged: the
// tokens are then bound to the plugin's id only.
func (s *grpcServer[C]) provider(instanceID string, cfg C) string {
	pi, ok := s.conn.(ProviderIdentifier[C])
	if !ok {
		return ""
	}
	id := pi.ProviderIdentity(cfg)
	if err := CheckProviderIdentity(id); err != nil {
		s.log.Warn("the connector's provider identity is left out", "instance", instanceID, "error", err)
		return ""
	}
	return id
}

// template is the connector's authorization template for cfg, when it declares a
// sound one. A template that fails its check is left out (and logged): the host
// then calls GetAuthorizationUri, which still works.
func (s *grpcServer[C]) template(instanceID string, cfg C) *connectorv1.AuthorizationTemplate {
	tc, ok := s.conn.(AuthorizationTemplater[C])
	if !ok {
		return nil
	}
	return s.sound(instanceID, "authorization template", tc.AuthorizationTemplate(cfg))
}

// sound is t on the wire, or nil when there is none or it fails its check
// (logged, naming what): the host then asks for each URL, which still works.
func (s *grpcServer[C]) sound(instanceID, what string, t *AuthorizationTemplate) *connectorv1.AuthorizationTemplate {
	if t == nil {
		return nil
	}
	if err := t.Check(); err != nil {
		s.log.Warn("the connector's "+what+" is not sound; the host will ask for each URL", "instance", instanceID, "error", err)
		return nil
	}
	return Wire.AuthorizationTemplateToProto(t)
}

func (s *grpcServer[C]) GetAuthorizationUri(ctx context.Context, req *connectorv1.GetAuthorizationUriRequest) (*connectorv1.GetAuthorizationUriResponse, error) {
	cfg, ctx, err := s.instance(ctx, req.GetInstance())
	if err != nil {
		return nil, toStatus(err)
	}
	auth, err := s.conn.AuthorizationURI(ctx, cfg, Wire.AuthorizationRequestFromProto(req))
	if err != nil {
		return nil, toStatus(err)
	}
	if auth == nil {
		return nil, toStatus(Errorf(CodeGeneral, "connector returned no authorization"))
	}
	resp := &connectorv1.GetAuthorizationUriResponse{RedirectTo: auth.RedirectTo, Session: auth.Session}
	resp.AuthorizationTemplate, resp.TemplateValidForMs = s.currentTemplate(req.GetInstance().GetId(), cfg)
	return resp, nil
}

// currentTemplate is the template the connector says its URLs are made with
// now, and for how many milliseconds, when it says so and the template is sound.
func (s *grpcServer[C]) currentTemplate(instanceID string, cfg C) (*connectorv1.AuthorizationTemplate, int64) {
	tc, ok := s.conn.(CurrentAuthorizationTemplater[C])
	if !ok {
		return nil, 0
	}
	t, valid := tc.CurrentAuthorizationTemplate(cfg)
	if valid.Milliseconds() <= 0 {
		return nil, 0
	}
	wire := s.sound(instanceID, "current authorization template", t)
	if wire == nil {
		return nil, 0
	}
	return wire, min(valid, MaxTemplateValidity).Milliseconds()
}

func (s *grpcServer[C]) GetUserInfo(ctx context.Context, req *connectorv1.GetUserInfoRequest) (*connectorv1.GetUserInfoResponse, error) {
	cfg, ctx, err := s.instance(ctx, req.GetInstance())
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := s.conn.UserInfo(ctx, cfg, UserInfoRequest{
		InstanceID: req.GetInstance().GetId(),
		Session:    req.GetSession(),
		Callback:   req.GetCallback(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	if res == nil || res.UserInfo.ID == "" {
		return nil, toStatus(Errorf(CodeInvalidResponse, "connector returned a profile without an id"))
	}
	return &connectorv1.GetUserInfoResponse{UserInfo: Wire.UserInfoToProto(res.UserInfo), Tokens: Wire.TokenSetToProto(res.Tokens)}, nil
}

func (s *grpcServer[C]) RefreshTokens(ctx context.Context, req *connectorv1.RefreshTokensRequest) (*connectorv1.RefreshTokensResponse, error) {
	r, ok := s.conn.(Refresher[C])
	if !ok {
		return nil, toStatus(Errorf(CodeNotImplemented, "connector %q cannot refresh tokens", s.metadata.GetId()))
	}
	cfg, ctx, err := s.instance(ctx, req.GetInstance())
	if err != nil {
		return nil, toStatus(err)
	}
	tokens, err := r.Refresh(ctx, cfg, req.GetRefreshToken())
	if err != nil {
		return nil, toStatus(err)
	}
	if tokens == nil {
		return nil, toStatus(Errorf(CodeInvalidResponse, "connector returned no tokens"))
	}
	return &connectorv1.RefreshTokensResponse{Tokens: Wire.TokenSetToProto(tokens)}, nil
}

func (s *grpcServer[C]) RevokeToken(ctx context.Context, req *connectorv1.RevokeTokenRequest) (*connectorv1.RevokeTokenResponse, error) {
	r, ok := s.conn.(Revoker[C])
	if !ok {
		return nil, toStatus(Errorf(CodeNotImplemented, "connector %q cannot revoke tokens", s.metadata.GetId()))
	}
	if req.GetToken() == "" {
		return nil, toStatus(Errorf(CodeInsufficientRequestParameters, "a token to revoke is required"))
	}
	cfg, ctx, err := s.instance(ctx, req.GetInstance())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := r.Revoke(ctx, cfg, req.GetToken(), req.GetTokenTypeHint()); err != nil {
		return nil, toStatus(err)
	}
	return &connectorv1.RevokeTokenResponse{}, nil
}

// ReleaseInstances drops the cached configuration of each released instance still
// at the released version, then lets a Releaser drop what it holds for it.
func (s *grpcServer[C]) ReleaseInstances(ctx context.Context, req *connectorv1.ReleaseInstancesRequest) (*connectorv1.ReleaseInstancesResponse, error) {
	r, _ := s.conn.(Releaser[C])
	for _, in := range req.GetInstances() {
		cfg, held := s.instances.release(in.GetId(), in.GetConfigVersion())
		if held && r != nil {
			s.safeRelease(ctx, r, in.GetId(), cfg)
		}
	}
	return &connectorv1.ReleaseInstancesResponse{}, nil
}

// safeRelease keeps a panic in the author's Release from taking the plugin down or
// from skipping the other instances of the same request.
func (s *grpcServer[C]) safeRelease(ctx context.Context, r Releaser[C], id string, cfg C) {
	log := s.log.With("instance", id)
	defer func() {
		if p := recover(); p != nil {
			log.Error("releasing the instance panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	r.Release(withLogger(ctx, log), id, cfg)
}

// instance resolves the call's configuration and puts an instance-tagged logger in ctx.
func (s *grpcServer[C]) instance(ctx context.Context, in *connectorv1.Instance) (C, context.Context, error) {
	cfg, err := s.instances.get(ctx, in)
	return cfg, withLogger(ctx, s.log.With("instance", in.GetId())), err
}

// An error travels in the reply's trailers, its message three times
// (grpc-message, percent-encoded, which may triple it, and twice in the status
// detail), and the host refuses trailers over 64 KiB. What is sent is cut to
// fit, some 34 KiB at most, still more than the host keeps (a message of 1 KiB,
// details of 4 KiB): a connector's long error arrives cut, not as a refused
// reply.
const (
	maxSentMessage = 4 << 10 // bytes, cut on a character boundary
	maxSentDetails = 8 << 10 // bytes of the details' JSON; over it they are left out
)

// sandboxDialHint is what an author needs when a connection of their own
// was refused: the sandbox leaves a plugin no network but the host's proxy.
const sandboxDialHint = "; the sandbox gives a plugin no network of its own: make provider requests " +
	"with sdk.NewTransport (or sdk.DialContext, or oauth2kit's client), which go through the host's egress proxy"

// sandboxRefusedDial says whether err is a connection the plugin opened itself
// that the sandbox refused (Landlock's EACCES, seccomp's EPERM, or an empty
// network namespace), while the host runs an egress proxy for it.
func sandboxRefusedDial(err error) bool {
	if os.Getenv(wire.EnvEgressProxy) == "" {
		return false
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENETUNREACH)
}

// toStatus turns a connector error into a gRPC status carrying a ConnectorError detail.
func toStatus(err error) error {
	if errors.Is(err, errConfigRequired) {
		st, _ := status.New(codes.FailedPrecondition, err.Error()).
			WithDetails(&connectorv1.ConnectorError{Code: string(CodeInvalidConfig), Message: err.Error(), ConfigRequired: true})
		return st.Err()
	}
	e := AsError(err)
	if e.Code == CodeGeneral && errors.Is(err, context.DeadlineExceeded) {
		e = &Error{Code: CodeProviderTimeout, Message: e.Message}
	}
	if e.Code == CodeGeneral && sandboxRefusedDial(err) {
		e = &Error{Code: CodeGeneral, Message: e.Message + sandboxDialHint, Details: e.Details}
	}
	d := Wire.ErrorToProto(e)
	// A protobuf string must be UTF-8, or the detail does not marshal and the
	// code is lost; a provider's Latin-1 text is common enough. The details'
	// JSON is UTF-8 already (encoding/json replaces invalid bytes).
	d.Code = validUTF8(d.Code)
	d.Message = printable.Cut(validUTF8(d.Message), maxSentMessage)
	if len(d.DetailsJson) > maxSentDetails {
		d.DetailsJson = nil
	}
	st, detailErr := status.New(grpcCode(e.Code), d.Message).WithDetails(d)
	if detailErr != nil {
		return status.Error(codes.Internal, printable.Cut(validUTF8(e.Error()), maxSentMessage))
	}
	return st.Err()
}

// validUTF8 is s with each run of invalid bytes replaced by U+FFFD, as the
// host's own bound on a plugin's text does.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func grpcCode(c ErrorCode) codes.Code {
	switch c {
	case CodeInvalidConfig, CodeInvalidMetadata, CodeInvalidRequestParameters, CodeInsufficientRequestParameters:
		return codes.InvalidArgument
	case CodeSocialAuthCodeInvalid, CodeSocialAccessTokenInvalid, CodeSocialIDTokenInvalid, CodeAuthorizationFailed:
		return codes.Unauthenticated
	case CodeNotImplemented:
		return codes.Unimplemented
	case CodeRateLimitExceeded:
		return codes.ResourceExhausted
	case CodeProviderTimeout:
		return codes.DeadlineExceeded
	case CodeProviderUnavailable:
		// Not codes.Unavailable: the host reads that as "the plugin is gone".
		return codes.Aborted
	default:
		return codes.Unknown
	}
}

// connectorInterceptors wrap every call of the connector service, innermost last.
func connectorInterceptors(log *slog.Logger) []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{recoverPanics(log), answerBeforeDeadline}
}

// answerBeforeDeadline ends a call's context a little before the host's deadline
// (a tenth of the time left, from 20 ms to one second), so that a connector whose
// provider is slow right up to the deadline answers provider_timeout while the host
// still listens, instead of being the plugin the host gave up waiting for.
func answerBeforeDeadline(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		return handler(ctx, req)
	}
	left := time.Until(dl)
	margin := min(max(left/10, 20*time.Millisecond), time.Second)
	if left <= 2*margin {
		return handler(ctx, req)
	}
	ctx, cancel := context.WithDeadline(ctx, dl.Add(-margin))
	defer cancel()
	return handler(ctx, req)
}

// recoverPanics turns a panic in connector code into a general error for that call
// only; the plugin goes on serving.
func recoverPanics(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("connector panicked", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				resp, err = nil, toStatus(Errorf(CodeGeneral, "connector panicked: %v", r))
			}
		}()
		return handler(ctx, req)
	}
}
