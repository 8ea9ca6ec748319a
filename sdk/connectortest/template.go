package connectortest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"google.golang.org/protobuf/proto"
)

// TemplateConnector is a connector that gives the host authorization
// templates, so that the host builds its authorization URLs: at configure time
// (sdk.AuthorizationTemplater), while it serves (sdk.CurrentAuthorizationTemplater),
// or both. CheckAuthorizationTemplate fails for a connector that does neither.
type TemplateConnector[C any] interface {
	sdk.Connector[C]
}

// TemplateOptions say what CheckAuthorizationTemplate compares.
type TemplateOptions struct {
	// Configs are configurations by name, each one that ParseConfig accepts and
	// for which the connector declares a template. Each is encoded with
	// encoding/json (a map[string]any, a struct), except a json.RawMessage or a
	// []byte, which is the JSON itself.
	Configs map[string]any

	// Requests are the authorization requests built with each configuration
	// (TemplateRequests when empty).
	Requests []sdk.AuthorizationRequest

	// SetRandom makes the connector's AuthorizationURI draw its nonces and PKCE
	// verifiers from r, and from crypto/rand again when r is nil: the check passes
	// the same bytes to the host's build, so that both draw the same values. A
	// package variable that AuthorizationURI passes to Build does it:
	//
	//	var random io.Reader // nil: crypto/rand
	//	... return tmpl.Build(req, random)
	//	SetRandom: func(r io.Reader) { random = r },
	//
	// Required when a template has PKCE or a nonce.
	SetRandom func(r io.Reader)
}

// TemplateRequests are the requests CheckAuthorizationTemplate builds when
// TemplateOptions.Requests is empty: a plain one, one whose state, redirect URI
// and scope need escaping (a scope joined with '+', one that names openid), and
// a loopback redirect URI.
func TemplateRequests() []sdk.AuthorizationRequest {
	return []sdk.AuthorizationRequest{
		{InstanceID: InstanceID, RedirectURI: DefaultRedirectURI, State: "STATE-1"},
		{InstanceID: InstanceID, RedirectURI: DefaultRedirectURI + "?x=1&y=%20", State: "s t&=ä", Scope: "email+profile openid"},
		{InstanceID: InstanceID, RedirectURI: "http://127.0.0.1:9/cb", State: "z", Scope: "openid only"},
	}
}

// CheckAuthorizationTemplate checks that, for every configuration of opts and
// every request, the URL and session the host builds from the connector's
// template are the ones its AuthorizationURI returns, byte for byte. The
// template is the one declared at configure time, or else the one the connector
// reports (sdk.CurrentAuthorizationTemplater) after a first authorization. The
// template reaches the host's build as the host gets it: encoded by the SDK, sent
// as bytes, decoded and checked. Each configuration is a subtest.
//
//	func TestHostBuildsWhatThePluginBuilds(t *testing.T) {
//		connectortest.CheckAuthorizationTemplate(t, connector{}, connectortest.TemplateOptions{
//			Configs:   map[string]any{"plain": cfg, "no pkce": noPKCE},
//			SetRandom: func(r io.Reader) { random = r },
//		})
//	}
func CheckAuthorizationTemplate[C any](t T, c TemplateConnector[C], opts TemplateOptions) {
	t.Helper()
	if len(opts.Configs) == 0 {
		t.Fatalf("connectortest: TemplateOptions.Configs is empty: nothing to compare")
		return
	}
	requests := opts.Requests
	if len(requests) == 0 {
		requests = TemplateRequests()
	}
	names := make([]string, 0, len(opts.Configs))
	for name := range opts.Configs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		subtest(t, name, func(t T) {
			t.Helper()
			checkTemplate(t, c, opts.Configs[name], requests, opts.SetRandom)
		})
	}
}

// checkTemplate compares the host's build with the plugin's for one configuration.
func checkTemplate[C any](t T, c TemplateConnector[C], config any, requests []sdk.AuthorizationRequest, setRandom func(io.Reader)) {
	t.Helper()
	raw, err := configJSON(config)
	if err != nil {
		t.Fatalf("cannot encode the configuration: %v", err)
		return
	}
	cfg, err := c.ParseConfig(raw)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
		return
	}
	tmpl, err := declared(t, c, cfg, requests[0], setRandom)
	if err != nil {
		t.Fatalf("%v", err)
		return
	}
	host, err := overTheWire(tmpl)
	if err != nil {
		t.Fatalf("%v", err)
		return
	}
	if (host.PKCE || host.NonceParam != "") && setRandom == nil {
		t.Fatalf("the template draws a nonce or PKCE verifier, and TemplateOptions.SetRandom is nil: set it, so that both builds draw the same")
		return
	}
	for _, req := range requests {
		plugin, err := pluginBuild(t, c, cfg, req, setRandom)
		if err != nil {
			t.Fatalf("plugin: %v", err)
			return
		}
		built, err := host.Build(req, seeded())
		if err != nil {
			t.Fatalf("host: %v", err)
			return
		}
		if !reflect.DeepEqual(plugin, built) {
			t.Errorf("%+v:\nplugin %+v\n  host %+v", req, plugin, built)
		}
	}
}

// declared is the template the host gets for cfg: the one declared at
// configure time, or else the one the connector reports after an authorization
// (it may learn it then: an endpoint found by discovery).
func declared[C any](t T, c TemplateConnector[C], cfg C, first sdk.AuthorizationRequest, setRandom func(io.Reader)) (*sdk.AuthorizationTemplate, error) {
	if tc, ok := c.(sdk.AuthorizationTemplater[C]); ok {
		if tmpl := tc.AuthorizationTemplate(cfg); tmpl != nil {
			return tmpl, nil
		}
	}
	cc, ok := c.(sdk.CurrentAuthorizationTemplater[C])
	if !ok {
		return nil, errors.New("no template declared (the connector implements neither sdk.AuthorizationTemplater nor sdk.CurrentAuthorizationTemplater, or returned nil)")
	}
	if _, err := pluginBuild(t, c, cfg, first, setRandom); err != nil {
		return nil, fmt.Errorf("plugin: %w", err)
	}
	tmpl, valid := cc.CurrentAuthorizationTemplate(cfg)
	if tmpl == nil || valid <= 0 {
		return nil, fmt.Errorf("no template declared at configure time, nor reported after an authorization (template %v, valid for %s)", tmpl != nil, valid)
	}
	return tmpl, nil
}

// pluginBuild is the connector's own AuthorizationURI, drawing from seeded().
func pluginBuild[C any](t T, c TemplateConnector[C], cfg C, req sdk.AuthorizationRequest, setRandom func(io.Reader)) (*sdk.Authorization, error) {
	if setRandom != nil {
		setRandom(seeded())
		defer setRandom(nil)
	}
	return c.AuthorizationURI(t.Context(), cfg, req)
}

// configJSON is config as ParseConfig takes it.
func configJSON(config any) ([]byte, error) {
	switch v := config.(type) {
	case json.RawMessage:
		return v, nil
	case []byte:
		return v, nil
	default:
		return json.Marshal(v)
	}
}

// seeded is the same randomness every time it is made, so that the plugin's
// build and the host's draw the same nonce and verifier.
func seeded() io.Reader {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i*31 + 5)
	}
	return bytes.NewReader(b)
}

// overTheWire is the template as the host holds it: encoded by the SDK, sent as
// bytes, decoded and checked by the host.
func overTheWire(tmpl *sdk.AuthorizationTemplate) (*sdk.AuthorizationTemplate, error) {
	b, err := proto.Marshal(&connectorv1.ValidateConfigResponse{AuthorizationTemplate: sdk.Wire.AuthorizationTemplateToProto(tmpl)})
	if err != nil {
		return nil, err
	}
	var resp connectorv1.ValidateConfigResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		return nil, err
	}
	got := sdk.Wire.AuthorizationTemplateFromProto(resp.GetAuthorizationTemplate())
	if got == nil {
		return nil, errors.New("the template was lost on the wire")
	}
	if err := got.Check(); err != nil {
		return nil, fmt.Errorf("the host would refuse the template: %w", err)
	}
	return got, nil
}
