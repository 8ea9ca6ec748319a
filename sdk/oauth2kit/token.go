package oauth2kit

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
)

// Token is what a token endpoint issued.
type Token struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	IDToken      string
	Scope        string
	// ExpiresIn is the lifetime the provider gave; zero when it gave none.
	ExpiresIn time.Duration
	// Expiry is when the token expires, counted from when the request was sent;
	// zero when the provider gave no lifetime. ParseTokenResponse leaves it zero.
	Expiry time.Time
	// Dropped names the optional fields of the answer that were malformed (such as
	// an expires_in of "soon") and ignored rather than failing the sign-in.
	Dropped []string
}

// TokenSet returns t in the SDK's shape.
func (t *Token) TokenSet() *sdk.TokenSet {
	return &sdk.TokenSet{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		IDToken:      t.IDToken,
		TokenType:    t.TokenType,
		Scope:        t.Scope,
		ExpiresAt:    t.Expiry,
	}
}

// TokenEndpoint exchanges authorization codes and refresh tokens. A request is sent
// exactly once: an authorization code must never be sent twice, and a provider that
// rotates refresh tokens would revoke the grant on a replay.
type TokenEndpoint struct {
	URL  string
	Auth ClientAuth
	// Format forces how answers are read; FormatAuto follows the Content-Type.
	Format ResponseFormat
	// Extra parameters go into every token request, as written. Protocol parameters
	// always win over them (see IsProtocolParam).
	Extra map[string]string
	HTTP  *HTTPClient

	// now is the clock; nil means time.Now.
	now func() time.Time
}

// Exchange trades an authorization code for tokens. redirectURI and codeVerifier
// must be exactly the ones the authorization request used; an empty codeVerifier
// leaves PKCE out.
func (e *TokenEndpoint) Exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*Token, error) {
	params := url.Values{
		"grant_type":   {string(GrantAuthorizationCode)},
		"code":         {code},
		"redirect_uri": {redirectURI},
	}
	if codeVerifier != "" {
		params.Set("code_verifier", codeVerifier)
	}
	return e.request(ctx, GrantAuthorizationCode, params)
}

// Refresh trades a refresh token for a new token set. When the provider does not
// rotate the refresh token (its answer has none), the old one is kept.
func (e *TokenEndpoint) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, sdk.Errorf(sdk.CodeInsufficientRequestParameters, "no refresh token was given")
	}
	t, err := e.request(ctx, GrantRefreshToken, url.Values{
		"grant_type":    {string(GrantRefreshToken)},
		"refresh_token": {refreshToken},
	})
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

func (e *TokenEndpoint) request(ctx context.Context, grant GrantType, params url.Values) (*Token, error) {
	sent := e.clock()
	req, form, err := e.newRequest(ctx, params, sent)
	if err != nil {
		return nil, err
	}
	// Only an error is redacted: a refresh may rightly hand the same refresh token back.
	resp, err := e.HTTP.do(ctx, req, "token endpoint", e.Auth.ClientSecret, form.Get("code"), form.Get("code_verifier"),
		form.Get("refresh_token"), form.Get("client_assertion"))
	if err != nil {
		return nil, err
	}
	t, err := parseTokenAnswer(resp, e.Format, grant)
	if err != nil {
		return nil, redact(err, resp.sent.forms()...)
	}
	if t.ExpiresIn > 0 {
		t.Expiry = sent.Add(t.ExpiresIn)
	}
	for _, field := range t.Dropped {
		// The field's name only: its value could be anything, a token included.
		sdk.Logger(ctx).Warn("the token endpoint's answer has a malformed optional field; it is ignored", "field", field)
	}
	return t, nil
}

// newRequest builds the POST: extra parameters first, then the protocol parameters
// and the client's credentials over them.
func (e *TokenEndpoint) newRequest(ctx context.Context, params url.Values, now time.Time) (*http.Request, url.Values, error) {
	form := url.Values{}
	for k, v := range e.Extra {
		if !IsProtocolParam(k) {
			form.Set(k, v)
		}
	}
	for k, v := range params {
		form[k] = v
	}
	header := http.Header{}
	if err := e.Auth.apply(form, header, e.URL, now); err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, sdk.Errorf(sdk.CodeInvalidConfig, "the token endpoint %q is not a usable URL", e.URL)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Ask for JSON: GitHub, among others, answers form-encoded otherwise. Both are read.
	req.Header.Set("Accept", "application/json")
	return req, form, nil
}

func (e *TokenEndpoint) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}
