package oidcconnector

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idplug/idplug/sdk"
)

// The stubs here show the presets' provider quirks no standards-following server
// has: Google's scheme-less iss, Microsoft's multi-tenant issuer template, Apple's
// form_post with the user field and its ES256 client secret.

func TestGooglePresetAcceptsItsSchemelessIssuer(t *testing.T) {
	s := newStubOP(t)
	google := parse(t, s.config(map[string]any{"provider": "google"}))
	if google.scope != "openid profile email" {
		t.Errorf("scope = %q", google.scope)
	}
	schemeless := func(n string) string {
		return sign(t, with(s.claims(n), "iss", "accounts.google.com"), jose.RS256, s.key, s.kid)
	}
	if _, err := s.signIn(t, google, schemeless); err != nil {
		t.Fatalf("google, iss accounts.google.com: %v", err)
	}
	// Only for Google: a generic instance refuses it.
	_, err := s.signIn(t, parse(t, s.config(nil)), schemeless)
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkIssuer)
	_, err = s.signIn(t, google, func(n string) string {
		return sign(t, with(s.claims(n), "iss", "evil.example"), jose.RS256, s.key, s.kid)
	})
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkIssuer)
}

func TestGooglePresetDefaults(t *testing.T) {
	in := parse(t, map[string]any{"provider": "google", "clientId": "x.apps.googleusercontent.com", "clientSecret": "s"})
	if in.provider.issuer != "https://accounts.google.com" {
		t.Errorf("issuer = %q", in.provider.issuer)
	}
	ms := parse(t, map[string]any{"provider": "microsoft", "tenant": "contoso.onmicrosoft.com", "clientId": "c", "clientSecret": "s"})
	if ms.provider.issuer != "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0" {
		t.Errorf("issuer = %q", ms.provider.issuer)
	}
	common := parse(t, map[string]any{"provider": "microsoft", "clientId": "c", "clientSecret": "s"})
	if common.provider.issuer != "https://login.microsoftonline.com/common/v2.0" {
		t.Errorf("issuer = %q", common.provider.issuer)
	}
}

func TestMicrosoftMultiTenantIssuer(t *testing.T) {
	s := newStubOPWith(t, "/common/v2.0", "")
	s.issuer = s.URL() + "/{tenantid}/v2.0"
	in := parse(t, s.config(map[string]any{"provider": "microsoft"}))
	const tid = "9188040d-6c67-4c5b-b112-36a304b66dad"
	tenantToken := func(iss, tid string) func(string) string {
		return func(n string) string {
			return sign(t, with(with(s.claims(n), "iss", iss), "tid", tid), jose.RS256, s.key, s.kid)
		}
	}
	if _, err := s.signIn(t, in, tenantToken(s.URL()+"/"+tid+"/v2.0", tid)); err != nil {
		t.Fatalf("a tenant's token: %v", err)
	}
	for name, tok := range map[string]func(string) string{
		"tid of another tenant":    tenantToken(s.URL()+"/"+tid+"/v2.0", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
		"no tid":                   tenantToken(s.URL()+"/"+tid+"/v2.0", ""),
		"tid that is no tenant id": tenantToken(s.URL()+"/x/../v2.0", "x/.."),
		"the template itself":      tenantToken(s.URL()+"/{tenantid}/v2.0", "{tenantid}"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.signIn(t, in, tok)
			refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkIssuer)
		})
	}
	// A discovery document naming another issuer than the configured one is refused.
	other := newStubOPWith(t, "/common/v2.0", "https://elsewhere.example/{tenantid}/v2.0")
	bad := parse(t, other.config(map[string]any{"provider": "microsoft"}))
	_, err := connector{}.AuthorizationURI(context.Background(), bad, sdk.AuthorizationRequest{RedirectURI: stubRedirect, State: "st"})
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeInvalidResponse {
		t.Fatalf("err = %v, want invalid_response for the discovery issuer", err)
	}
}

// A tenant the tests allow, and one they do not (personal Microsoft accounts').
const (
	tenantMine  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantOther = "9188040d-6c67-4c5b-b112-36a304b66dad"
)

// TestMicrosoftAllowedTenants: with common (or organizations) every tenant's
// accounts sign in; allowedTenants keeps those whose ID token names a listed
// tenant in its tid, whatever the case of the id as configured.
func TestMicrosoftAllowedTenants(t *testing.T) {
	s := newStubOPWith(t, "/common/v2.0", "")
	s.issuer = s.URL() + "/{tenantid}/v2.0"
	in := parse(t, s.config(map[string]any{"provider": "microsoft", "allowedTenants": []string{strings.ToUpper(tenantMine)}}))
	token := func(tid string) func(string) string {
		return func(n string) string {
			return sign(t, with(with(s.claims(n), "iss", s.URL()+"/"+tid+"/v2.0"), "tid", tid), jose.RS256, s.key, s.kid)
		}
	}
	if _, err := s.signIn(t, in, token(tenantMine)); err != nil {
		t.Fatalf("an allowed tenant's account: %v", err)
	}
	_, err := s.signIn(t, in, token(tenantOther))
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkTenant)
	if e := sdk.AsError(err); !strings.Contains(e.Message, `its tid "`+tenantOther+`" is not one of the tenants this connector allows`) {
		t.Fatalf("message = %q", e.Message)
	}
	// Without the list, both sign in, as before.
	open := parse(t, s.config(map[string]any{"provider": "microsoft"}))
	for _, tid := range []string{tenantMine, tenantOther} {
		if _, err := s.signIn(t, open, token(tid)); err != nil {
			t.Fatalf("tenant %s without allowedTenants: %v", tid, err)
		}
	}
}

// TestMicrosoftMultiTenantCallbackIss: for common and organizations the
// discovered issuer is the "{tenantid}" template, so a callback's iss (RFC
// 9207) may be the template as discovered or filled with a tenant id; which
// tenant is the ID token's tid to say. Another server's iss is refused before
// the code is redeemed, as is one filled with anything but a tenant id.
func TestMicrosoftMultiTenantCallbackIss(t *testing.T) {
	s := newStubOPWith(t, "/common/v2.0", "")
	s.issuer = s.URL() + "/{tenantid}/v2.0"
	in := parse(t, s.config(map[string]any{"provider": "microsoft"}))
	token := func(n string) string {
		return sign(t, with(with(s.claims(n), "iss", s.URL()+"/"+tenantMine+"/v2.0"), "tid", tenantMine), jose.RS256, s.key, s.kid)
	}
	for _, iss := range []string{"", s.URL() + "/{tenantid}/v2.0", s.URL() + "/" + tenantMine + "/v2.0", s.URL() + "/" + tenantOther + "/v2.0"} {
		extra := map[string]string{"iss": iss}
		if iss == "" {
			extra = nil // the discovery document does not promise iss
		}
		if _, err := s.signInWith(t, in, token, extra); err != nil {
			t.Errorf("callback iss %q: %v", iss, err)
		}
	}
	for _, iss := range []string{
		"https://attacker.example/" + tenantMine + "/v2.0",
		s.URL() + "/common/v2.0",
		s.URL() + "/x/../v2.0",
		s.URL() + "/" + tenantMine + "/v2.0/extra",
		s.URL() + "/" + tenantMine + "x/v2.0",
	} {
		redeemed := len(s.Requests("/token"))
		_, err := s.signInWith(t, in, token, map[string]string{"iss": iss})
		if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeInvalidRequestParameters || e.Details["iss"] != iss {
			t.Errorf("callback iss %q: err = %v, want invalid_request_parameters naming it", iss, err)
		}
		if len(s.Requests("/token")) != redeemed {
			t.Errorf("callback iss %q: the code was redeemed", iss)
		}
	}
}

// TestMicrosoftTenantAlias: for a tenant named by an alias (consumers, a
// domain), Microsoft's discovery names the tenant's id as the issuer, and its
// ID tokens carry that issuer.
func TestMicrosoftTenantAlias(t *testing.T) {
	const tid = "9188040d-6c67-4c5b-b112-36a304b66dad"
	s := newStubOPWith(t, "/consumers/v2.0", "")
	s.issuer = s.URL() + "/" + tid + "/v2.0"
	in := parse(t, s.config(map[string]any{"provider": "microsoft"}))
	token := func(iss string) func(string) string {
		return func(n string) string {
			return sign(t, with(with(s.claims(n), "iss", iss), "tid", tid), jose.RS256, s.key, s.kid)
		}
	}
	if _, err := s.signIn(t, in, token(s.issuer)); err != nil {
		t.Fatalf("a consumer's token: %v", err)
	}
	_, err := s.signIn(t, in, token(s.URL()+"/consumers/v2.0"))
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkIssuer)

	// Only Microsoft's preset, only another tenant id of the same host and path.
	for name, c := range map[string]struct {
		issuer string
		extra  map[string]any
	}{
		"a generic provider": {s.URL() + "/" + tid + "/v2.0", nil},
		"another host":       {"https://elsewhere.example/" + tid + "/v2.0", map[string]any{"provider": "microsoft"}},
		"not a tenant id":    {s.URL() + "/common/v2.0", map[string]any{"provider": "microsoft"}},
		"another path":       {s.URL() + "/" + tid + "/v1.0", map[string]any{"provider": "microsoft"}},
	} {
		t.Run(name, func(t *testing.T) {
			other := newStubOPWith(t, "/consumers/v2.0", c.issuer)
			bad := parse(t, other.config(c.extra))
			_, err := connector{}.AuthorizationURI(context.Background(), bad, sdk.AuthorizationRequest{RedirectURI: stubRedirect, State: "st"})
			if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeInvalidResponse {
				t.Fatalf("err = %v, want invalid_response for the discovery issuer", err)
			}
		})
	}
}

func TestApplePreset(t *testing.T) {
	s := newStubOP(t)
	appleKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const teamID, keyID, servicesID = "TEAM123456", "KEY1234567", "com.example.web"
	var secrets []string
	// Apple's token endpoint: the client secret must be an ES256 JWT by the team's key.
	s.checkToken = func(r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return err
		}
		secret := r.PostForm.Get("client_secret")
		secrets = append(secrets, secret)
		tok, err := jwt.ParseSigned(secret, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			return fmt.Errorf("client_secret is not an ES256 JWT: %v", err)
		}
		if tok.Headers[0].KeyID != keyID {
			return fmt.Errorf("kid %q", tok.Headers[0].KeyID)
		}
		var c jwt.Claims
		if err := tok.Claims(&appleKey.PublicKey, &c); err != nil {
			return fmt.Errorf("signature: %v", err)
		}
		return c.ValidateWithLeeway(jwt.Expected{Issuer: teamID, Subject: servicesID, AnyAudience: jwt.Audience{"https://appleid.apple.com"}, Time: time.Now()}, 0)
	}
	cfg := map[string]any{
		"provider": "apple", "issuer": s.URL(), "clientId": servicesID, "teamId": teamID,
		"privateKeyId": keyID, "privateKey": pemKey(t, appleKey),
	}
	in := parse(t, cfg)
	appleToken := func(n string) string {
		c := with(with(s.claims(n), "aud", servicesID), "email_verified", "true") // Apple sends a string
		delete(c, "name")                                                         // and never the name
		return sign(t, c, jose.RS256, s.key, s.kid)
	}
	res, err := s.signInWith(t, in, appleToken, map[string]string{"user": `{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"ada@example.com"}`})
	if err != nil {
		t.Fatal(err)
	}
	if res.UserInfo.Name == nil || *res.UserInfo.Name != "Ada Lovelace" || res.UserInfo.Email == nil {
		t.Errorf("profile = %+v, want the name from user and the verified email", res.UserInfo)
	}
	u, _ := url.Parse(s.lastAuthURL)
	if q := u.Query(); q.Get("response_mode") != "form_post" || q.Get("scope") != "openid name email" {
		t.Errorf("authorization URL = %s, want form_post and name email", s.lastAuthURL)
	}
	// Later sign-ins carry no user: no name, no failure.
	res, err = s.signIn(t, in, appleToken)
	if err != nil || res.UserInfo.Name != nil {
		t.Fatalf("second sign-in = %+v, %v", res, err)
	}
	// A user field that is not JSON is ignored, never trusted for anything else.
	if _, err := s.signInWith(t, in, appleToken, map[string]string{"user": `{"name":`}); err != nil {
		t.Fatal(err)
	}

	// A key that is not the team's: the stub (Apple) refuses the client secret.
	wrongKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg["privateKey"] = pemKey(t, wrongKey)
	_, err = s.signIn(t, parse(t, cfg), appleToken)
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeInvalidConfig || e.Details["error"] != "invalid_client" {
		t.Fatalf("err = %v, want the provider's refusal of the client secret", err)
	}
	if len(secrets) < 2 || secrets[0] == "" {
		t.Fatalf("client secrets sent: %d", len(secrets))
	}
}

// TestTenantTemplateOnlyForCommonAndOrganizations: the "{tenantid}" issuer
// template is Microsoft's discovery for its common and organizations endpoints.
// For one tenant's issuer, or any other provider's, a discovery document naming
// it would let every other tenant's tokens in (OIDC Discovery 4.3: the issuer is
// the configured one, exactly); it is refused.
func TestTenantTemplateOnlyForCommonAndOrganizations(t *testing.T) {
	const tenantA = "11111111-1111-1111-1111-111111111111"
	cases := map[string]map[string]any{
		"microsoft preset, one tenant": {"provider": "microsoft"},
		"generic provider":             {},
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStubOPWith(t, "/"+tenantA+"/v2.0", "")
			s.issuer = s.URL() + "/{tenantid}/v2.0"
			in := parse(t, s.config(extra))
			_, err := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: stubRedirect, State: "st"})
			var e *sdk.Error
			if !errors.As(err, &e) || e.Code != sdk.CodeInvalidResponse {
				t.Fatalf("err = %v, want invalid_response for the discovery issuer", err)
			}
		})
	}
	// A generic provider configured at .../common/v2.0 is no Microsoft either.
	s := newStubOPWith(t, "/common/v2.0", "")
	s.issuer = s.URL() + "/{tenantid}/v2.0"
	in := parse(t, s.config(nil))
	if _, err := (connector{}).AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: stubRedirect, State: "st"}); err == nil {
		t.Fatal("a generic provider took the multi-tenant template")
	}
}

// TestAConfiguredIssuerIsNeverATemplate: an issuer holding "{tenantid}"
// was taken as Microsoft's template wherever it was configured, so a generic
// instance with idTokenVerificationConfig.issuer
// ".../{tenantid}/v2.0" took the tokens of every tenant. Only the Microsoft
// preset at common or organizations gets the template, from discovery; a "{"
// in a configured issuer is refused, naming the field.
func TestAConfiguredIssuerIsNeverATemplate(t *testing.T) {
	const template = "https://login.microsoftonline.com/{tenantid}/v2.0"
	static := func(issuer any) map[string]any {
		return map[string]any{
			"clientId": "c", "clientSecret": "s",
			"authorizationEndpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
			"tokenEndpoint":         "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			"idTokenVerificationConfig": map[string]any{
				"jwksUri": "https://login.microsoftonline.com/common/discovery/v2.0/keys", "issuer": issuer,
			},
		}
	}
	for name, tc := range map[string]struct {
		cfg   map[string]any
		field string
	}{
		"generic, idTokenVerificationConfig.issuer": {static(template), "idTokenVerificationConfig.issuer"},
		"generic, in a list of issuers":             {static([]string{"https://id.example.com", template}), "idTokenVerificationConfig.issuer"},
		"generic, issuer":                           {map[string]any{"issuer": template, "clientId": "c", "clientSecret": "s"}, "issuer"},
		"microsoft, issuer":                         {map[string]any{"provider": "microsoft", "issuer": template, "clientId": "c", "clientSecret": "s"}, "issuer"},
	} {
		t.Run(name, func(t *testing.T) {
			got := configProblems(t, tc.cfg)
			if msg := got[tc.field]; !strings.Contains(msg, "must not be a template") {
				t.Fatalf("problems = %v, want %s refused as a template", got, tc.field)
			}
		})
	}
}

// TestGoogleHostedDomain: customConfig.hd asks Google's page for accounts of
// one Workspace domain, a hint the browser may drop from the URL. The ID token's
// hd must then be that domain (Google's documentation says to check it); any
// Google account had signed in. "*" (any Workspace account) asks nothing of it.
func TestGoogleHostedDomain(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(map[string]any{"provider": "google", "customConfig": map[string]any{"hd": "example.com"}}))
	withHD := func(hd string) func(string) string {
		return func(n string) string {
			c := s.claims(n)
			if hd != "" {
				c["hd"] = hd
			}
			return sign(t, c, jose.RS256, s.key, s.kid)
		}
	}
	if _, err := s.signIn(t, in, withHD("example.com")); err != nil {
		t.Fatalf("an account of the domain: %v", err)
	}
	if u, _ := url.Parse(s.lastAuthURL); u.Query().Get("hd") != "example.com" {
		t.Fatalf("authorization URL %s does not ask for hd", s.lastAuthURL)
	}
	for name, hd := range map[string]string{"a personal account (no hd)": "", "another domain": "evil.example", "a lookalike": "example.com.evil.example"} {
		t.Run(name, func(t *testing.T) {
			_, err := s.signIn(t, in, withHD(hd))
			refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkHostedDomain)
		})
	}
	anyDomain := parse(t, s.config(map[string]any{"provider": "google", "customConfig": map[string]any{"hd": "*"}}))
	if _, err := s.signIn(t, anyDomain, withHD("")); err != nil {
		t.Fatalf("hd *: %v", err)
	}
	// Another provider's hd parameter is its own business.
	generic := parse(t, s.config(map[string]any{"customConfig": map[string]any{"hd": "example.com"}}))
	if _, err := s.signIn(t, generic, withHD("")); err != nil {
		t.Fatalf("generic provider with an hd parameter: %v", err)
	}
}
