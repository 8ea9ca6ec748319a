package oidcconnector

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// Session keys that AuthorizationURI adds to those of oauth2kit.StartAuthorization:
// what the ID token and the issuer are checked against at the callback.
const (
	sessionNonce  = "nonce"
	sessionIssuer = "issuer"
)

// connector implements sdk.Connector and sdk.Refresher.
type connector struct{}

// New returns the OpenID Connect connector, ready for sdk.Serve or to be called in
// process.
func New() sdk.Connector[*Instance] { return connector{} }

var (
	_ sdk.Connector[*Instance] = connector{}
	_ sdk.Refresher[*Instance] = connector{}

	_ sdk.AuthorizationTemplater[*Instance]        = connector{}
	_ sdk.CurrentAuthorizationTemplater[*Instance] = connector{}
)

func (connector) Metadata() sdk.Metadata { return metadata() }

func (connector) ParseConfig(raw []byte) (*Instance, error) { return parseConfig(raw) }

// random is where authorizations draw their nonces and PKCE verifiers; nil is
// crypto/rand. Tests fix it to compare the host's build with the plugin's.
var random io.Reader

// AuthorizationURI starts a sign-in: a fresh nonce and PKCE pair per flow, and
// everything the callback must be checked against kept in the session. It builds
// from the same template the host gets (when it gets one), so both build the same.
func (connector) AuthorizationURI(ctx context.Context, in *Instance, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	if err := oauth2kit.CheckAuthorizationRequest(req); err != nil {
		return nil, err
	}
	endpoint := in.provider.static.Authorization
	if endpoint == "" {
		e, err := in.provider.endpoints(ctx)
		if err != nil {
			return nil, err
		}
		endpoint = e.Authorization
	}
	t, err := in.template(endpoint)
	if err != nil {
		return nil, err
	}
	return t.Build(req, random)
}

// AuthorizationTemplate lets the host build this instance's authorization URLs
// itself when its authorization endpoint is configured. One found by discovery
// may change while the instance is served, so only the plugin builds with it.
func (connector) AuthorizationTemplate(in *Instance) *sdk.AuthorizationTemplate {
	if in.provider.static.Authorization == "" {
		return nil
	}
	t, err := in.template(in.provider.static.Authorization)
	if err != nil || t.Check() != nil {
		return nil // the plugin builds a URL the template cannot express
	}
	return t
}

// ProviderIdentity is the issuer (the discovered one, or those accepted
// without discovery), a configured token endpoint, and the client id: what
// decides who honours the instance's tokens.
func (connector) ProviderIdentity(in *Instance) string {
	p := in.provider
	id := "issuer=" + p.issuer
	if p.issuer == "" {
		id = "issuers=" + strings.Join(p.issuers, ",")
	}
	if p.static.Token != "" {
		id += " token_endpoint=" + p.static.Token
	}
	return id + " client_id=" + in.clientID
}

// CurrentAuthorizationTemplate hands the host the template of the discovered
// authorization endpoint, for as long as the discovery document stays cached:
// the host then builds the next URLs itself, and asks again once the document
// is due to be fetched again. Nothing for a configured endpoint (the template
// given at configure time covers it) or one not yet discovered.
func (connector) CurrentAuthorizationTemplate(in *Instance) (*sdk.AuthorizationTemplate, time.Duration) {
	if in.provider.static.Authorization != "" {
		return nil, 0
	}
	e, left := in.provider.cached()
	if e == nil || left <= 0 {
		return nil, 0
	}
	t, err := in.template(e.Authorization)
	if err != nil || t.Check() != nil {
		return nil, 0
	}
	return t, left
}

// template is how the instance's authorization URLs are made with endpoint: the
// code flow's, plus a fresh nonce, openid always in the scope, and the issuer the
// callback is checked against.
func (in *Instance) template(endpoint string) (*sdk.AuthorizationTemplate, error) {
	extra := make(map[string]string, len(in.authParams))
	for k, v := range in.authParams {
		if k != "nonce" { // each flow's own
			extra[k] = v
		}
	}
	t, err := oauth2kit.AuthorizationTemplate(oauth2kit.AuthorizationRequest{
		Endpoint: endpoint,
		ClientID: in.clientID,
		Scope:    in.scope,
		Extra:    extra,
	}, in.pkce)
	if err != nil {
		return nil, err
	}
	t.RequiredScopes = []string{"openid"}
	t.NonceParam, t.Session.Nonce = "nonce", sessionNonce
	t.Session.Fixed = map[string]string{sessionIssuer: in.provider.issuer}
	return t, nil
}

// UserInfo finishes a sign-in: it checks the callback, exchanges the code (once,
// with exactly the session's redirect URI and PKCE verifier), verifies the ID token
// against the session's nonce, and maps its claims, merged with the userinfo
// endpoint's when configured.
func (connector) UserInfo(ctx context.Context, in *Instance, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	if started := req.Session[sessionIssuer]; started != in.provider.issuer {
		return nil, sdk.Errorf(sdk.CodeInvalidRequestParameters,
			"the sign-in started while issuer was %q, but it is now %q; start the sign-in again", started, in.provider.issuer)
	}
	e, err := in.provider.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	code, err := oauth2kit.ReadCallback(req.Callback, oauth2kit.CallbackCheck{State: req.Session[oauth2kit.SessionState], Issuer: in.callbackIssuer(e, req.Callback["iss"])})
	if err != nil {
		return nil, err
	}
	redirectURI, nonce := req.Session[oauth2kit.SessionRedirectURI], req.Session[sessionNonce]
	if redirectURI == "" || nonce == "" {
		return nil, sdk.Errorf(sdk.CodeInvalidRequestParameters, "the session has no redirect URI or nonce; start the sign-in again")
	}
	tok, err := in.tokenEndpoint(e).Exchange(ctx, code, redirectURI, req.Session[oauth2kit.SessionCodeVerifier])
	if err != nil {
		return nil, err
	}
	idt, err := in.verify(ctx, tok.IDToken, expectation{endpoints: e, nonce: nonce, accessToken: tok.AccessToken})
	if err != nil {
		return nil, err
	}
	var info []byte
	if in.fetchInfo {
		if info, err = in.fetchUserInfo(ctx, e, tok.AccessToken, idt.claims.Subject); err != nil {
			return nil, err
		}
	}
	var appleUser string
	if in.appleUser {
		// Apple's first callback posts the name; other providers send no such
		// field, and a browser must not be able to name itself.
		appleUser = req.Callback["user"]
	}
	profile, err := mapProfile(idt.claims.Subject, idt.raw, info, appleUser)
	if err != nil {
		return nil, err
	}
	sdk.Logger(ctx).Debug("signed in", "user", profile.ID, "scope", tok.Scope)
	return oauth2kit.SignedIn(profile, tok, in.storeTokens), nil
}

// callbackIssuer is what the callback's iss must equal (RFC 9207), or "" for no
// check. A callback that carries iss is held to the issuer the connector
// knows, however it knows it: the discovered one, or without discovery
// idTokenVerificationConfig.issuer (RFC 9207 2.4: the client MUST compare, and
// refuse a mismatch, before it redeems the code). A callback without iss is
// refused only when the discovery document promises it.
//
// When got is accepted, it is returned itself, so that ReadCallback (which
// compares exactly, after the state) lets it through; otherwise the first
// expected issuer is, for ReadCallback to refuse the callback naming it.
func (in *Instance) callbackIssuer(e *endpoints, got string) string {
	accepted, required := in.provider.issuers, false
	if e.Issuer != "" {
		// Google's scheme-less form (extraIssuers) is an ID token quirk only:
		// RFC 9207 iss is the issuer identifier of the metadata.
		accepted, required = []string{e.Issuer}, e.IssParameter
	}
	if len(accepted) == 0 || (got == "" && !required) {
		return ""
	}
	for _, want := range accepted {
		if callbackIssuerMatches(got, want) {
			return got
		}
	}
	return accepted[0]
}

// callbackIssuerMatches compares a callback's iss with an expected issuer. For
// Microsoft's multi-tenant endpoints that is the "{tenantid}" template, which
// the metadata names as it is (RFC 9207 compares with that value exactly) but
// whose callbacks may name the account's tenant: the template filled with a
// tenant id is accepted too. Which tenant is not known before the ID token's
// tid, checked then; what iss guards against, a callback from another server
// (mix-up), is settled by the template's scheme, host and path.
func callbackIssuerMatches(got, want string) bool {
	if got == "" {
		return false
	}
	if got == want {
		return true
	}
	prefix, _, template := strings.Cut(want, "{tenantid}")
	const idLen = len("00000000-0000-0000-0000-000000000000")
	if !template || !strings.HasPrefix(got, prefix) || len(got) < len(prefix)+idLen {
		return false
	}
	tid := got[len(prefix) : len(prefix)+idLen]
	return tenantIDPattern.MatchString(tid) && got == strings.ReplaceAll(want, "{tenantid}", tid)
}

// tokenEndpoint is the configured token client aimed at the current endpoint.
func (in *Instance) tokenEndpoint(e *endpoints) *oauth2kit.TokenEndpoint {
	t := *in.token
	t.URL = e.Token
	if in.apple != nil {
		t.Auth.ClientSecret = in.apple.sign(in.clientID)
	}
	return &t
}

// fetchUserInfo calls the userinfo endpoint and checks that its sub is the ID
// token's (OIDC Core 5.3.2): a different one means the answer is not about this user.
func (in *Instance) fetchUserInfo(ctx context.Context, e *endpoints, accessToken, sub string) ([]byte, error) {
	if e.UserInfo == "" {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "the provider has no userinfo endpoint; set userInfoEndpoint or turn fetchUserInfo off")
	}
	u := *in.userInfo
	u.URL = e.UserInfo
	raw, err := u.Fetch(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	if got := stringClaim(raw, "sub"); got != sub {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the userinfo endpoint answered for sub %q, not the ID token's %q (OIDC Core 5.3.2)", clean(got), sub).
			WithDetail("check", "userinfo_sub")
	}
	return raw, nil
}

// Refresh renews a token set. An ID token in the answer is verified like the first
// one, without a nonce (OIDC Core 12.2).
func (connector) Refresh(ctx context.Context, in *Instance, refreshToken string) (*sdk.TokenSet, error) {
	e, err := in.provider.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := in.tokenEndpoint(e).Refresh(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	if tok.IDToken != "" {
		if _, err := in.verify(ctx, tok.IDToken, expectation{endpoints: e, accessToken: tok.AccessToken, refresh: true}); err != nil {
			return nil, err
		}
	}
	return tok.TokenSet(), nil
}

// VerifyIDToken runs the checks a sign-in's ID token gets (signature by the
// provider's keys, iss, aud, azp, exp, iat, nbf and, when nonce is not empty, the
// nonce) and returns the token's claims. It serves callers that receive ID tokens
// outside the code flow, and measuring what verification costs.
func (in *Instance) VerifyIDToken(ctx context.Context, rawIDToken, nonce string) (json.RawMessage, error) {
	e, err := in.provider.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	v, err := in.verify(ctx, rawIDToken, expectation{endpoints: e, nonce: nonce})
	if err != nil {
		return nil, err
	}
	return v.raw, nil
}
