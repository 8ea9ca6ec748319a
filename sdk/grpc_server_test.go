package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

type testConfig struct {
	Greeting string `json:"greeting"`
}

// testConnector counts ParseConfig calls and misbehaves on request.
type testConnector struct {
	parses atomic.Int32
}

func (*testConnector) Metadata() Metadata {
	return Metadata{
		ID: "test", Target: "test", Platform: PlatformWeb,
		Name: I18n{"en": "Test"}, Description: I18n{"en": "A test connector"},
		FormItems: []FormItem{
			{Key: "greeting", Label: "Greeting", Type: FormSelect, DefaultValue: "hi",
				SelectItems:    []SelectItem{{Value: "hi", Title: "Hi"}},
				ShowConditions: []ShowCondition{{TargetKey: "mode", ExpectValue: true}}},
		},
	}
}

func (c *testConnector) ParseConfig(raw []byte) (testConfig, error) {
	c.parses.Add(1)
	var cfg testConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, err
	}
	var ce ConfigError
	if cfg.Greeting == "" {
		ce.Add("greeting", "is required")
	}
	if cfg.Greeting == "parse-panic" {
		panic("parse exploded")
	}
	return cfg, ce.Err()
}

func (*testConnector) AuthorizationURI(ctx context.Context, cfg testConfig, req AuthorizationRequest) (*Authorization, error) {
	switch cfg.Greeting {
	case "panic":
		panic("kaboom")
	case "provider-error":
		return nil, Errorf(CodeAuthorizationFailed, "denied").WithDetail("error", "access_denied").WithDetail("status", 400)
	case "plain-error":
		return nil, errors.New("something broke")
	case "huge-error": // the largest trailers the SDK sends: a message of many bytes escaped, details just within
		return nil, Errorf(CodeAuthorizationFailed, "%s", strings.Repeat("é", 50<<10)).WithDetail("d", strings.Repeat("é", 4090))
	case "huge-details":
		return nil, Errorf(CodeAuthorizationFailed, "denied").WithDetail("d", strings.Repeat("d", 9<<10))
	}
	Logger(ctx).Info("building url")
	return &Authorization{RedirectTo: "https://idp.test/?g=" + cfg.Greeting + "&state=" + req.State, Session: Session{"state": req.State}}, nil
}

func (*testConnector) UserInfo(ctx context.Context, cfg testConfig, req UserInfoRequest) (*UserInfoResult, error) {
	if cfg.Greeting == "slow-provider" { // waits for a provider that never answers
		<-ctx.Done()
		return nil, fmt.Errorf("token endpoint: %w", ctx.Err())
	}
	return &UserInfoResult{UserInfo: UserInfo{ID: req.Callback["code"], Name: String(cfg.Greeting), Email: String("")}}, nil
}

func dial(t *testing.T, c *testConnector, logs *bytes.Buffer) connectorv1.ConnectorServiceClient {
	t.Helper()
	return dialConnector(t, c, logs)
}

// dialConnector serves c over an in-memory connection, as the plugin would.
func dialConnector(t *testing.T, c Connector[testConfig], logs *bytes.Buffer, opts ...grpc.DialOption) connectorv1.ConnectorServiceClient {
	t.Helper()
	log := newPluginLogger(logs, slog.LevelDebug)
	srv, err := newGRPCServer[testConfig](c, log)
	if err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(connectorInterceptors(log)...))
	connectorv1.RegisterConnectorServiceServer(s, srv)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", append([]grpc.DialOption{
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return connectorv1.NewConnectorServiceClient(conn)
}

func inst(id, version, config string) *connectorv1.Instance {
	return &connectorv1.Instance{Id: id, ConfigVersion: version, Config: []byte(config)}
}

func detail(t *testing.T, err error) *connectorv1.ConnectorError {
	t.Helper()
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if ce, ok := d.(*connectorv1.ConnectorError); ok {
			return ce
		}
	}
	t.Fatalf("no ConnectorError detail in %v", err)
	return nil
}

func TestConfigIsParsedOncePerVersionAndResentOnDemand(t *testing.T) {
	c := &testConnector{}
	client := dial(t, c, &bytes.Buffer{})
	ctx := context.Background()

	// Without the configuration, the plugin asks for it.
	_, err := client.GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{Instance: inst("a", "v1", ""), State: "s"})
	if d := detail(t, err); !d.GetConfigRequired() || status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("err = %v", err)
	}
	for range 3 {
		resp, err := client.GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{Instance: inst("a", "v1", `{"greeting":"hi"}`), State: "s"})
		if err != nil || resp.GetRedirectTo() != "https://idp.test/?g=hi&state=s" || resp.GetSession()["state"] != "s" {
			t.Fatalf("resp = %v, err = %v", resp, err)
		}
		// Later calls name the version only.
		if _, err := client.GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{Instance: inst("a", "v1", ""), State: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.parses.Load(); n != 1 {
		t.Fatalf("ParseConfig ran %d times, want 1", n)
	}
	// A new version is parsed again; instances do not share configurations.
	resp, err := client.GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{Instance: inst("a", "v2", `{"greeting":"yo"}`)})
	if err != nil || !strings.Contains(resp.GetRedirectTo(), "g=yo") {
		t.Fatalf("resp = %v, err = %v", resp, err)
	}
	if _, err := client.GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{Instance: inst("b", "v2", "")}); !detail(t, err).GetConfigRequired() {
		t.Fatalf("instance b must not see a's configuration: %v", err)
	}
}

func TestValidateConfigReportsFields(t *testing.T) {
	client := dial(t, &testConnector{}, &bytes.Buffer{})
	resp, err := client.ValidateConfig(context.Background(), &connectorv1.ValidateConfigRequest{Instance: inst("a", "v1", `{}`)})
	if err != nil || len(resp.GetErrors()) != 1 || resp.GetErrors()[0].GetField() != "greeting" || resp.GetErrors()[0].GetMessage() != "is required" {
		t.Fatalf("resp = %v, err = %v", resp, err)
	}
	// A call on an invalid instance fails with invalid_config and the fields in details.
	_, err = client.GetAuthorizationUri(context.Background(), &connectorv1.GetAuthorizationUriRequest{Instance: inst("a", "v1", "")})
	d := detail(t, err)
	if d.GetCode() != string(CodeInvalidConfig) || !strings.Contains(string(d.GetDetailsJson()), `"field":"greeting"`) {
		t.Fatalf("detail = %v", d)
	}
	// A panic while parsing is a config error, not a dead plugin.
	resp, err = client.ValidateConfig(context.Background(), &connectorv1.ValidateConfigRequest{Instance: inst("p", "v1", `{"greeting":"parse-panic"}`)})
	if err == nil || !strings.Contains(err.Error(), "parsing the configuration panicked: parse exploded") {
		t.Fatalf("resp = %v, err = %v", resp, err)
	}
}

func TestErrorsCrossTheWireWithCodeAndDetails(t *testing.T) {
	logs := &bytes.Buffer{}
	client := dial(t, &testConnector{}, logs)
	ctx := context.Background()
	call := func(greeting string) error {
		_, err := client.GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{Instance: inst(greeting, "v", `{"greeting":"`+greeting+`"}`)})
		return err
	}
	d := detail(t, call("provider-error"))
	if d.GetCode() != "authorization_failed" || d.GetMessage() != "denied" || string(d.GetDetailsJson()) != `{"error":"access_denied","status":400}` {
		t.Fatalf("detail = %v", d)
	}
	if d := detail(t, call("plain-error")); d.GetCode() != "general" || d.GetMessage() != "something broke" {
		t.Fatalf("detail = %v", d)
	}
	if d := detail(t, call("panic")); d.GetCode() != "general" || d.GetMessage() != "connector panicked: kaboom" {
		t.Fatalf("detail = %v", d)
	}
	// The plugin goes on serving after a panic, and logged its stack in the host's format.
	if err := call("fine"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"@level":"error","@message":"connector panicked"`) ||
		!strings.Contains(logs.String(), `"@message":"building url","instance":"fine"`) {
		t.Fatalf("logs = %s", logs)
	}
	_, err := client.RefreshTokens(ctx, &connectorv1.RefreshTokensRequest{Instance: inst("x", "v", `{"greeting":"x"}`)})
	if d := detail(t, err); d.GetCode() != "not_implemented" {
		t.Fatalf("detail = %v", d)
	}
}

// An error's message and details are cut to what fits in the trailers a host
// takes (64 KiB): a connector's long error reaches the host cut, with its code,
// not as a reply the host refuses.
func TestLongErrorsFitTheHostsTrailers(t *testing.T) {
	client := dialConnector(t, &testConnector{}, &bytes.Buffer{}, grpc.WithMaxHeaderListSize(64<<10))
	call := func(greeting string) *connectorv1.ConnectorError {
		_, err := client.GetAuthorizationUri(context.Background(), &connectorv1.GetAuthorizationUriRequest{Instance: inst(greeting, "v", `{"greeting":"`+greeting+`"}`)})
		return detail(t, err)
	}
	d := call("huge-error")
	if d.GetCode() != "authorization_failed" || len(d.GetMessage()) != maxSentMessage || !utf8.ValidString(d.GetMessage()) ||
		len(d.GetDetailsJson()) != len(`{"d":""}`)+2*4090 {
		t.Fatalf("code %q, message of %d bytes, details of %d", d.GetCode(), len(d.GetMessage()), len(d.GetDetailsJson()))
	}
	if d := call("huge-details"); d.GetCode() != "authorization_failed" || d.GetMessage() != "denied" || d.GetDetailsJson() != nil {
		t.Fatalf("code %q, message %q, details of %d bytes", d.GetCode(), d.GetMessage(), len(d.GetDetailsJson()))
	}
}

// latin1Connector's errors carry bytes that are not UTF-8, as a provider's
// Latin-1 error_description does once put in a message.
type latin1Connector struct{ testConnector }

func (*latin1Connector) ParseConfig([]byte) (testConfig, error) {
	return testConfig{}, &ConfigError{Fields: []FieldError{{Field: "caf\xe9", Message: "not \xe9"}}}
}

// A protobuf string must be UTF-8: text that is not would make the reply fail
// to marshal, and the host would hear a bare Internal (general) instead of the
// connector's code or its configuration's problems.
func TestTextThatIsNotUTF8StillCrossesTheWire(t *testing.T) {
	st, _ := status.FromError(toStatus(Errorf(CodeSocialAuthCodeInvalid, "provider said: caf\xe9")))
	var d *connectorv1.ConnectorError
	for _, x := range st.Details() {
		if ce, ok := x.(*connectorv1.ConnectorError); ok {
			d = ce
		}
	}
	if d == nil || d.GetCode() != string(CodeSocialAuthCodeInvalid) || d.GetMessage() != "provider said: caf\uFFFD" ||
		st.Code() != codes.Unauthenticated || st.Message() != d.GetMessage() {
		t.Fatalf("grpc %s %q, detail %v; want social_auth_code_invalid, the bad byte replaced", st.Code(), st.Message(), d)
	}

	client := dialConnector(t, &latin1Connector{}, &bytes.Buffer{})
	resp, err := client.ValidateConfig(t.Context(), &connectorv1.ValidateConfigRequest{Instance: inst("a", "v1", `{}`)})
	if err != nil || len(resp.GetErrors()) != 1 || resp.GetErrors()[0].GetField() != "caf\uFFFD" || resp.GetErrors()[0].GetMessage() != "not \uFFFD" {
		t.Fatalf("resp = %v, err = %v", resp, err)
	}
}

// A provider slow right up to the host's deadline is provider_timeout, answered
// while the host still waits: the connector's context ends first.
func TestSlowProviderIsATimeoutTheHostHears(t *testing.T) {
	client := dial(t, &testConnector{}, &bytes.Buffer{})
	// 6 s: the answer has 600 ms (a tenth) to cross back, room on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	_, err := client.GetUserInfo(ctx, &connectorv1.GetUserInfoRequest{Instance: inst("slow", "v", `{"greeting":"slow-provider"}`)})
	if d := detail(t, err); d.GetCode() != string(CodeProviderTimeout) {
		t.Fatalf("detail = %v, want provider_timeout", d)
	}
	if ctx.Err() != nil {
		t.Fatalf("the answer came after the caller's deadline: %v", err)
	}
}

func TestMetadataAndProfileConversion(t *testing.T) {
	client := dial(t, &testConnector{}, &bytes.Buffer{})
	resp, err := client.GetMetadata(context.Background(), &connectorv1.GetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m := resp.GetMetadata()
	f := m.GetFormItems()[0]
	if m.GetPlatform() != connectorv1.Platform_PLATFORM_WEB || f.GetType() != connectorv1.FormItemType_FORM_ITEM_TYPE_SELECT ||
		string(f.GetDefaultValueJson()) != `"hi"` || string(f.GetShowConditions()[0].GetExpectValueJson()) != "true" {
		t.Fatalf("metadata = %v", m)
	}
	ui, err := client.GetUserInfo(context.Background(), &connectorv1.GetUserInfoRequest{
		Instance: inst("a", "v", `{"greeting":"hi"}`), Callback: map[string]string{"code": "u1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// An empty email is a value, not an absent one.
	if u := ui.GetUserInfo(); u.GetId() != "u1" || u.Email == nil || *u.Email != "" || u.Phone != nil {
		t.Fatalf("user info = %v", u)
	}
}

func TestMetadataIsValidatedBeforeServing(t *testing.T) {
	err := validateMetadata(Metadata{Platform: "Desktop", FormItems: []FormItem{{Key: "a", Type: "Text"}, {Key: "a", Type: "Blob"}}})
	for _, want := range []string{"id: is required", "name.en: is required", "description.en: is required",
		`platform: must be Universal, Web or Native, not "Desktop"`, `formItems[1].key: "a" is used twice`, `formItems[1].type: unknown form item type "Blob"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

// scopeConnector echoes the scope it was asked for, so the test sees what crossed the wire.
type scopeConnector struct{ testConnector }

func (*scopeConnector) AuthorizationURI(_ context.Context, _ testConfig, req AuthorizationRequest) (*Authorization, error) {
	return &Authorization{RedirectTo: "https://idp.test/", Session: Session{"scope": req.Scope}}, nil
}

func TestScopeCrossesTheWire(t *testing.T) {
	log := newPluginLogger(&bytes.Buffer{}, slog.LevelDebug)
	srv, err := newGRPCServer[testConfig](&scopeConnector{}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	scope := "openid email"
	for _, tc := range []struct {
		scope *string
		want  string
	}{{nil, ""}, {&scope, "openid email"}} {
		resp, err := srv.GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{Instance: inst("a", "v1", `{"greeting":"hi"}`), State: "s", Scope: tc.scope})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.GetSession()["scope"]; got != tc.want {
			t.Errorf("scope = %q, want %q", got, tc.want)
		}
	}
}

// currentConnector reports the template its greeting names, valid for as long
// as the greeting says.
type currentConnector struct{ testConnector }

func (*currentConnector) CurrentAuthorizationTemplate(cfg testConfig) (*AuthorizationTemplate, time.Duration) {
	t := &AuthorizationTemplate{Endpoint: "https://idp.test/authorize", Params: map[string]string{"client_id": "c"},
		StateParam: "state", RedirectURIParam: "redirect_uri", PKCE: true,
		Session: SessionTemplate{State: "state", RedirectURI: "redirect_uri", CodeVerifier: "verifier"}}
	switch cfg.Greeting {
	case "sound":
		return t, 90 * time.Second
	case "forever":
		return t, 100 * 365 * 24 * time.Hour
	case "expired":
		return t, 0
	case "unsound": // a pinned state would make every flow's the same
		t.Params["state"] = "fixed"
		return t, time.Minute
	}
	return nil, time.Minute
}

// TestCurrentTemplateGoesWithTheURL: a connector's current template reaches
// the host with the URL it answers, for as long as it says and at most an
// hour; an unsound one, or one with no time left, does not.
func TestCurrentTemplateGoesWithTheURL(t *testing.T) {
	var logs bytes.Buffer
	c := dialConnector(t, &currentConnector{}, &logs)
	for greeting, want := range map[string]int64{
		"sound": 90_000, "forever": MaxTemplateValidity.Milliseconds(), "expired": 0, "unsound": 0, "none": 0,
	} {
		resp, err := c.GetAuthorizationUri(context.Background(), &connectorv1.GetAuthorizationUriRequest{
			Instance: inst(greeting, "v1", `{"greeting":"`+greeting+`"}`), State: "s", RedirectUri: "https://app.test/cb"})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.GetTemplateValidForMs(); got != want || (want > 0) != (resp.GetAuthorizationTemplate() != nil) {
			t.Errorf("%s: template %v for %d ms, want one for %d ms", greeting, resp.GetAuthorizationTemplate(), got, want)
		}
	}
	if !strings.Contains(logs.String(), "current authorization template is not sound") {
		t.Errorf("the unsound template was not logged:\n%s", logs.String())
	}
}

// providerConnector names its greeting as the provider of its tokens.
type providerConnector struct{ testConnector }

func (*providerConnector) ProviderIdentity(cfg testConfig) string { return cfg.Greeting }

// The provider a connector names goes to the host with the configuration's
// check; one the host could not keep (over MaxProviderIdentity) is left out
// and logged, so that the tokens are bound to the plugin's id only.
func TestProviderIdentityCrossesTheWire(t *testing.T) {
	var logs bytes.Buffer
	client := dialConnector(t, &providerConnector{}, &logs)
	for _, tc := range []struct{ greeting, want string }{
		{"token_endpoint=https://a.example/token client_id=x", "token_endpoint=https://a.example/token client_id=x"},
		{strings.Repeat("x", MaxProviderIdentity+1), ""},
	} {
		cfg, _ := json.Marshal(map[string]string{"greeting": tc.greeting})
		resp, err := client.ValidateConfig(context.Background(), &connectorv1.ValidateConfigRequest{Instance: inst("a", tc.greeting[:8], string(cfg))})
		if err != nil || resp.GetProvider() != tc.want {
			t.Fatalf("provider %q, %v; want %q", resp.GetProvider(), err, tc.want)
		}
	}
	if !strings.Contains(logs.String(), "the connector's provider identity is left out") {
		t.Fatalf("the dropped identity is not logged:\n%s", logs.String())
	}
	// A connector that names none sends none.
	resp, err := dial(t, &testConnector{}, &bytes.Buffer{}).ValidateConfig(context.Background(),
		&connectorv1.ValidateConfigRequest{Instance: inst("a", "v1", `{"greeting":"hi"}`)})
	if err != nil || resp.GetProvider() != "" {
		t.Fatalf("provider %q, %v from a connector that names none", resp.GetProvider(), err)
	}
}

// A plugin that opens its own connection under the sandbox is refused by the
// kernel; its author is told to use the SDK's transport, not only "permission
// denied". Without the host's proxy (no sandbox) the error is left as it is.
func TestARefusedDialOfItsOwnNamesTheTransport(t *testing.T) {
	refused := fmt.Errorf("token exchange: %w", &url.Error{Op: "Post", URL: "http://127.0.0.1:9/token",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EACCES)}})
	message := func() string {
		st, _ := status.FromError(toStatus(refused))
		return st.Message()
	}
	t.Setenv(wire.EnvEgressProxy, "")
	if m := message(); strings.Contains(m, "sdk.NewTransport") {
		t.Errorf("without a proxy: %q", m)
	}
	t.Setenv(wire.EnvEgressProxy, filepath.Join(t.TempDir(), "egress.sock"))
	if m := message(); !strings.HasPrefix(m, "token exchange: Post") || !strings.Contains(m, "connect: permission denied; the sandbox gives a plugin no network of its own: make provider requests with sdk.NewTransport") {
		t.Errorf("under the sandbox: %q", m)
	}
	// Another failure to connect is not the sandbox's.
	refused = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	if m := message(); strings.Contains(m, "sandbox") {
		t.Errorf("a refused connection: %q", m)
	}
}
