// Package kitconn is a connector with one deliberate defect at a time, for the test
// kit's own tests: with no defect it passes every check; with one, exactly the
// check for that defect must fail. It is built on oauth2kit, and doubles as the
// plugin of testdata/kitplugin, which picks its defect from its file name.
package kitconn

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// The defects. Each names the check it breaks.
const (
	None = ""

	BadID                = "bad-id"                // metadata/id
	NoTarget             = "no-target"             // metadata/target
	BadPlatform          = "bad-platform"          // metadata/platform
	NoEnglishName        = "no-en-name"            // metadata/name
	EmptyDescription     = "empty-description"     // metadata/description
	BadLogo              = "bad-logo"              // metadata/logo
	NoReadme             = "no-readme"             // metadata/readme
	HugeReadme           = "huge-readme"           // metadata/bounds
	SelectWithoutItems   = "select-without-items"  // metadata/form-items
	DefaultNotSelectable = "default-not-in-select" // metadata/form-items
	ShowUnknownKey       = "show-unknown-key"      // metadata/form-items
	TemplateUnknownKey   = "template-unknown-key"  // metadata/config-template

	RefuseValid           = "refuse-valid"             // config/valid
	RequiredNotEnforced   = "required-not-enforced"    // config/required, config/empty
	FormKeyMismatch       = "form-key-mismatch"        // config/form-items
	IgnoreUnknownKeys     = "ignore-unknown-keys"      // config/unknown-key
	TypeErrorWithoutField = "type-error-without-field" // config/wrong-types
	FirstProblemOnly      = "first-problem-only"       // config/empty
	PanicOnGarbageConfig  = "panic-on-garbage-config"  // config/garbage
	AcceptGarbageConfig   = "accept-garbage-config"    // config/garbage
	PanicOnHugeConfig     = "panic-on-huge-config"     // config/huge
	MisspelledField       = "misspelled-field"         // config/huge
	EchoConfig            = "echo-config"              // secrets/never-shown

	NoStateInURL         = "no-state-in-url"        // authorization/url
	SecretInURL          = "secret-in-url"          // secrets/never-shown
	FixedPKCE            = "fixed-pkce"             // authorization/state-per-request
	FixedNonce           = "fixed-nonce"            // authorization/state-per-request (with openid)
	PanicOnEmptyState    = "panic-on-empty-state"   // authorization/garbage
	AccessDeniedGeneral  = "access-denied-general"  // callback/access-denied
	CrashOnAccessDenied  = "crash-on-access-denied" // callback/access-denied (binary only)
	HangOnAccessDenied   = "hang-on-access-denied"  // callback/access-denied
	MismatchGeneral      = "mismatch-general"       // callback/state-mismatch
	ExchangeBeforeState  = "exchange-before-state"  // callback/state-mismatch (with a provider)
	FlowsByState         = "flows-by-state"         // callback/other-flow (with a provider)
	IDFromCallback       = "id-from-callback"       // signin/injected-params
	FollowRedirects      = "follow-redirects"       // signin/no-redirects
	SecretToUserInfo     = "secret-to-userinfo"     // secrets/requests
	TokenInQuery         = "token-in-query"         // secrets/requests
	TokenFromCallback    = "token-from-callback"    // signin/injected-params
	NoStateAccepted      = "no-state-accepted"      // callback/no-state
	MissingCodeGeneral   = "missing-code-general"   // callback/missing-code
	EmptyCallbackGeneral = "empty-callback-general" // callback/empty
	EmptySessionAccepted = "empty-session-accepted" // callback/empty-session
	PanicOnHugeCallback  = "panic-on-huge-callback" // callback/garbage
	EchoCode             = "echo-code"              // secrets/never-shown
	LogToken             = "log-token"              // secrets/never-shown
	AccessTokenInRawData = "access-token-in-raw"    // secrets/profile
	TokenAnswerInRawData = "token-answer-in-raw"    // secrets/profile

	RefreshEmptyGeneral = "refresh-empty-general" // refresh/bad-token
	WrongNameField      = "wrong-name-field"      // signin/complete
	ExchangeTwice       = "exchange-twice"        // signin/invalid-code, signin/provider-down
	AuthCodeMisread     = "auth-code-misread"     // signin/invalid-code
	TokenInvalidGeneral = "token-invalid-general" // signin/invalid-token
	UnavailableGeneral  = "unavailable-general"   // signin/provider-down
	RefreshFaked        = "refresh-faked"         // signin/refresh
	NoProfileID         = "no-profile-id"         // signin/complete (and nothing else)
	FloatID             = "float-id"              // signin/numeric-id
	IgnoreAuthMethod    = "ignore-auth-method"    // signin/client-auth

	RefreshKeepsOldToken    = "refresh-keeps-old-token"   // signin/refresh-rotation
	TimeoutAsUnavailable    = "timeout-as-unavailable"    // signin/timeout
	NoUserInfoDeadline      = "no-userinfo-deadline"      // signin/timeout
	UnboundedBody           = "unbounded-body"            // signin/huge-answer
	PrintsTokens            = "prints-tokens"             // secrets/never-printed
	MalformedTokenGeneral   = "malformed-token-general"   // signin/malformed-token
	MalformedProfileSuccess = "malformed-profile-success" // signin/malformed-profile
	TokenError200Ignored    = "token-error-200-ignored"   // signin/token-error-200
	IgnoreEmailVerified     = "ignore-email-verified"     // signin/unverified-email

	NoPKCE        = "no-pkce"        // signin/pkce
	WrongVerifier = "wrong-verifier" // signin/pkce (and nothing else)
	PlainPKCE     = "plain-pkce"     // signin/pkce

	IDTokenSignatureUnchecked = "id-token-signature-unchecked" // id-token/signature
	IDTokenIssuerUnchecked    = "id-token-issuer-unchecked"    // id-token/issuer
	IDTokenAudienceUnchecked  = "id-token-audience-unchecked"  // id-token/audience
	IDTokenExpiryUnchecked    = "id-token-expiry-unchecked"    // id-token/expired
	IDTokenNonceUnchecked     = "id-token-nonce-unchecked"     // id-token/nonce
	IDTokenNonceOptional      = "id-token-nonce-optional"      // id-token/nonce
	IDTokenMissingAccepted    = "id-token-missing-accepted"    // id-token/missing
)

// Config is one instance's configuration.
type Config struct {
	AuthorizationEndpoint string `json:"authorizationEndpoint"`
	TokenEndpoint         string `json:"tokenEndpoint"`
	UserInfoEndpoint      string `json:"userInfoEndpoint"`
	ClientID              string `json:"clientId"`
	ClientSecret          string `json:"clientSecret"`
	Scope                 string `json:"scope"`
	Prompt                string `json:"prompt"`
	StoreTokens           bool   `json:"storeTokens"`
	AuthMethod            string `json:"tokenEndpointAuthMethod"`

	token    *oauth2kit.TokenEndpoint
	userInfo *oauth2kit.UserInfoEndpoint
	http     *oauth2kit.HTTPClient
}

// Connector is the connector with its defect.
type Connector struct {
	Defect string
	// Hang holds the calls HangOnAccessDenied hangs until it is closed (forever when nil).
	Hang chan struct{}
}

// New returns the connector with defect (None for a good one).
func New(defect string) Connector { return Connector{Defect: defect} }

var (
	_ sdk.Connector[*Config] = Connector{}
	_ sdk.Refresher[*Config] = Connector{}
)

// Logo is a valid data: URL logo.
const Logo = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="

func (c Connector) Metadata() sdk.Metadata {
	m := sdk.Metadata{
		ID:          "kit",
		Target:      "kit",
		Platform:    sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "Kit", "fr": "Kit"},
		Description: sdk.I18n{"en": "A connector for the test kit's tests."},
		Logo:        Logo,
		Readme:      "# Kit\n\nFor tests.\n",
		FormItems: []sdk.FormItem{
			{Key: "authorizationEndpoint", Label: "Authorization endpoint", Type: sdk.FormText, Required: true},
			{Key: "tokenEndpoint", Label: "Token endpoint", Type: sdk.FormText, Required: true},
			{Key: "userInfoEndpoint", Label: "Userinfo endpoint", Type: sdk.FormText, Required: true},
			{Key: "clientId", Label: "Client ID", Type: sdk.FormText, Required: true},
			{Key: "clientSecret", Label: "Client secret", Type: sdk.FormText, Required: true, Confidential: true},
			{Key: "scope", Label: "Scope", Type: sdk.FormText},
			{Key: "prompt", Label: "Prompt", Type: sdk.FormSelect, DefaultValue: "login",
				SelectItems: []sdk.SelectItem{{Value: "login"}, {Value: "consent"}}},
			{Key: "storeTokens", Label: "Store tokens", Type: sdk.FormSwitch, DefaultValue: false,
				ShowConditions: []sdk.ShowCondition{{TargetKey: "prompt", ExpectValue: "consent"}}},
			{Key: "tokenEndpointAuthMethod", Label: "Token endpoint auth method", Type: sdk.FormSelect, DefaultValue: "client_secret_post",
				SelectItems: []sdk.SelectItem{{Value: "client_secret_post"}, {Value: "client_secret_basic"}}},
		},
		ConfigTemplate: `{"clientId": "<client id>", "prompt": "login"}`,
	}
	switch c.Defect {
	case BadID:
		m.ID = "Kit Connector"
	case NoTarget:
		m.Target = ""
	case BadPlatform:
		m.Platform = "Desktop"
	case NoEnglishName:
		m.Name = sdk.I18n{"fr": "Kit"}
	case EmptyDescription:
		m.Description["de"] = " "
	case BadLogo:
		m.Logo = "ftp://kit.example/logo.png"
	case NoReadme:
		m.Readme = "\n"
	case HugeReadme:
		m.Readme = "# Kit\n\n" + strings.Repeat("For tests. ", 8000)
	case SelectWithoutItems:
		m.FormItems[6].SelectItems, m.FormItems[6].DefaultValue = nil, nil
	case DefaultNotSelectable:
		m.FormItems[6].DefaultValue = "none"
	case ShowUnknownKey:
		m.FormItems[7].ShowConditions[0].TargetKey = "promptMode"
	case TemplateUnknownKey:
		m.ConfigTemplate = `{"clientId": "<client id>", "prompts": "login"}`
	case FormKeyMismatch:
		m.FormItems[5].Key = "scopes"
	case RequiredNotEnforced:
		m.FormItems[5].Required = true // scope, which ParseConfig does not require
	}
	return m
}

func (c Connector) ParseConfig(raw []byte) (*Config, error) {
	switch {
	case c.Defect == PanicOnGarbageConfig && !strings.HasPrefix(strings.TrimSpace(string(raw)), "{"):
		panic("unexpected configuration")
	case c.Defect == PanicOnHugeConfig && len(raw) > 200<<10:
		panic("configuration too large")
	case c.Defect == AcceptGarbageConfig && !strings.HasPrefix(strings.TrimSpace(string(raw)), "{"):
		return &Config{}, nil
	}
	cfg := &Config{Prompt: "login", AuthMethod: "client_secret_post"}
	var p sdk.ConfigError
	if err := c.decode(raw, cfg, &p); err != nil {
		return nil, err
	}
	for _, f := range []struct{ key, value string }{
		{"authorizationEndpoint", cfg.AuthorizationEndpoint},
		{"tokenEndpoint", cfg.TokenEndpoint},
		{"userInfoEndpoint", cfg.UserInfoEndpoint},
	} {
		if f.value == "" {
			p.Add(f.key, "is required")
		} else if err := oauth2kit.CheckHTTPURL(f.value); err != nil && c.Defect == MisspelledField {
			p.Add(strings.ToUpper(f.key[:1])+f.key[1:], "%v", err) // TokenEndpoint for tokenEndpoint
		} else if err != nil {
			p.Add(f.key, "%v", err)
		}
	}
	if cfg.ClientID == "" {
		p.Add("clientId", "is required")
	}
	if cfg.ClientSecret == "" {
		p.Add("clientSecret", "is required")
	}
	if cfg.Prompt != "login" && cfg.Prompt != "consent" {
		p.Add("prompt", "must be login or consent")
	}
	method := oauth2kit.AuthMethod(cfg.AuthMethod)
	if method != oauth2kit.ClientSecretPost && method != oauth2kit.ClientSecretBasic {
		p.Add("tokenEndpointAuthMethod", "must be client_secret_post or client_secret_basic")
	}
	if c.Defect == IgnoreAuthMethod {
		method = oauth2kit.ClientSecretPost
	}
	if c.Defect == RefuseValid {
		p.Add("clientId", "is refused")
	}
	if c.Defect == FirstProblemOnly && len(p.Fields) > 1 {
		p.Fields = p.Fields[:1]
	}
	if c.Defect == EchoConfig && len(p.Fields) > 0 {
		p.Add("config", "the configuration was %s", raw)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	opts := oauth2kit.HTTPOptions{UserAgent: "idplug-kit", Timeout: RequestTimeout}
	if c.Defect == UnboundedBody {
		opts.MaxResponseBytes = 1 << 30 // raised for a provider whose profile carries its picture inline
	}
	client, err := oauth2kit.NewHTTPClient(opts)
	if err != nil {
		return nil, err
	}
	cfg.token = &oauth2kit.TokenEndpoint{
		URL:  cfg.TokenEndpoint,
		Auth: oauth2kit.ClientAuth{Method: method, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret},
		HTTP: client,
	}
	cfg.userInfo = &oauth2kit.UserInfoEndpoint{URL: cfg.UserInfoEndpoint, HTTP: client}
	if c.Defect == NoUserInfoDeadline {
		// oauth2kit's default request timeout, 8 s, past the call's deadline,
		// which UserInfo does not pass on.
		profileClient, err := oauth2kit.NewHTTPClient(oauth2kit.HTTPOptions{UserAgent: "idplug-kit"})
		if err != nil {
			return nil, err
		}
		cfg.userInfo.HTTP = profileClient
	}
	cfg.http = client
	return cfg, nil
}

// decode is sdk.DecodeConfig, or a worse decoder for the defects about decoding.
func (c Connector) decode(raw []byte, cfg *Config, p *sdk.ConfigError) error {
	switch c.Defect {
	case TypeErrorWithoutField:
		var all sdk.ConfigError
		if err := sdk.DecodeConfig(raw, cfg, &all); err != nil {
			return err
		}
		for _, f := range all.Fields {
			if strings.HasPrefix(f.Message, "must be") {
				return sdk.Errorf(sdk.CodeInvalidConfig, "the configuration has a value of the wrong type")
			}
		}
		p.Fields = append(p.Fields, all.Fields...)
		return nil
	case IgnoreUnknownKeys:
		var all sdk.ConfigError
		if err := sdk.DecodeConfig(raw, cfg, &all); err != nil {
			return err
		}
		for _, f := range all.Fields {
			if !strings.HasPrefix(f.Message, "unknown field") {
				p.Fields = append(p.Fields, f)
			}
		}
		return nil
	}
	return sdk.DecodeConfig(raw, cfg, p)
}

// Session keys.
const (
	sessionState       = "state"
	sessionRedirectURI = "redirectUri"
	sessionVerifier    = "codeVerifier"
	sessionNonce       = "nonce"
)

func (c Connector) AuthorizationURI(_ context.Context, cfg *Config, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	if c.Defect == PanicOnEmptyState && req.State == "" {
		panic("no state")
	}
	pkce := oauth2kit.NewPKCE()
	if c.Defect == FixedPKCE {
		pkce = fixedPKCE // made once, as ParseConfig could
	}
	ar := oauth2kit.AuthorizationRequest{
		Endpoint:      cfg.AuthorizationEndpoint,
		ClientID:      cfg.ClientID,
		RedirectURI:   req.RedirectURI,
		State:         req.State,
		Scope:         cfg.Scope,
		CodeChallenge: pkce.Challenge,
		Extra:         map[string]string{"prompt": cfg.Prompt},
	}
	if c.Defect == NoStateInURL {
		ar.State = ""
	}
	if c.Defect == NoPKCE {
		ar.CodeChallenge, pkce.Verifier = "", ""
	}
	session := sdk.Session{
		sessionState:       req.State,
		sessionRedirectURI: req.RedirectURI,
		sessionVerifier:    pkce.Verifier,
	}
	if openIDScope(cfg.Scope) {
		nonce := oauth2kit.NewPKCE().Verifier // a random value of the right kind
		if c.Defect == FixedNonce {
			nonce = fixedPKCE.Verifier
		}
		ar.Extra["nonce"], session[sessionNonce] = nonce, nonce
	}
	u, err := oauth2kit.AuthorizationURL(ar)
	if err != nil {
		return nil, err
	}
	if c.Defect == FlowsByState {
		flows.Store(req.State, session)
	}
	if c.Defect == PlainPKCE {
		u = withPlainChallenge(u, pkce.Verifier)
	}
	if c.Defect == SecretInURL {
		u += "&client_secret=" + url.QueryEscape(cfg.ClientSecret) // past oauth2kit, which refuses it
	}
	return &sdk.Authorization{RedirectTo: u, Session: session}, nil
}

func (c Connector) UserInfo(ctx context.Context, cfg *Config, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	if c.Defect == FlowsByState && len(req.Session) > 0 {
		// The flow looked up by the callback's state, as a store of flows
		// outside the session would: any live flow's callback finishes here.
		if s, ok := flows.Load(req.Callback["state"]); ok {
			req.Session = s.(sdk.Session)
		}
	}
	code, err := c.readCallback(req)
	if err != nil {
		return nil, c.echo(err, req.Callback["code"])
	}
	if c.Defect == PanicOnHugeCallback {
		for _, v := range req.Callback {
			if len(v) > 32<<10 {
				panic("callback value too large")
			}
		}
	}
	verifier := req.Session[sessionVerifier]
	if c.Defect == WrongVerifier {
		verifier = oauth2kit.NewPKCE().Verifier // another flow's, as a shared session key would give
	}
	var tok *oauth2kit.Token
	tookError := false
	if at := req.Callback["access_token"]; c.Defect == TokenFromCallback && at != "" {
		// "Implicit flow support": the browser's token taken for the
		// provider's, no code exchanged, no ID token to check.
		tok, err, tookError = &oauth2kit.Token{AccessToken: at, TokenType: "Bearer"}, nil, true
	} else {
		tok, err = cfg.token.Exchange(ctx, code, req.Session[sessionRedirectURI], verifier)
		if loc := redirectedTo(err); loc != "" && c.Defect == FollowRedirects {
			// As net/http's default client would: the same request, again,
			// wherever the answer points.
			moved := *cfg.token
			moved.URL = loc
			tok, err = moved.Exchange(ctx, code, req.Session[sessionRedirectURI], verifier)
		}
	}
	if err != nil && c.Defect == ExchangeTwice {
		tok, err = cfg.token.Exchange(ctx, code, req.Session[sessionRedirectURI], verifier)
	}
	if err != nil && c.Defect == TokenError200Ignored && sdk.AsError(err).Code == sdk.CodeSocialAuthCodeInvalid && sdk.AsError(err).Details["status"] == 200 {
		// The status said success, so on it goes, ID token or none.
		tok, err, tookError = &oauth2kit.Token{}, nil, true
	}
	if err != nil && c.Defect == MalformedTokenGeneral && unparsed(err) {
		return nil, errors.New(sdk.AsError(err).Message)
	}
	if err != nil {
		return nil, c.misread(err)
	}
	if c.Defect == LogToken {
		sdk.Logger(ctx).Debug("exchanged the code", "access_token", tok.AccessToken)
	}
	if c.Defect == PrintsTokens {
		fmt.Fprintf(os.Stderr, "kitconn: token answer %+v\n", *tok) // left from debugging
	}
	if openIDScope(cfg.Scope) && !tookError {
		if err := c.verifyIDToken(ctx, cfg, tok.IDToken, req.Session[sessionNonce]); err != nil {
			return nil, err
		}
	}
	userInfo := *cfg.userInfo
	switch c.Defect {
	case SecretToUserInfo:
		userInfo.URL += "?client_secret=" + url.QueryEscape(cfg.ClientSecret)
	case TokenInQuery:
		userInfo.URL += "?access_token=" + url.QueryEscape(tok.AccessToken) // RFC 6750 2.3's, into every log on the way
	}
	profileCtx := ctx
	if c.Defect == NoUserInfoDeadline {
		profileCtx = context.Background() // a profile helper written before calls had a context
	}
	raw, err := userInfo.Fetch(profileCtx, tok.AccessToken)
	if loc := redirectedTo(err); loc != "" && c.Defect == FollowRedirects {
		moved := *cfg.userInfo
		moved.URL = loc
		raw, err = moved.Fetch(ctx, tok.AccessToken)
	}
	if err != nil && c.Defect == MalformedProfileSuccess && unparsed(err) {
		return &sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: "unknown"}}, nil
	}
	if err != nil {
		return nil, c.misread(err)
	}
	m := oauth2kit.DefaultProfileMap()
	m.EmailVerified = "email_verified"
	switch c.Defect {
	case IgnoreEmailVerified:
		m.EmailVerified = ""
	case WrongNameField:
		m.Name = "login"
	case NoProfileID:
		m.ID = "user_id"
	}
	profile, err := oauth2kit.MapProfile(raw, m)
	if err != nil {
		return nil, err
	}
	if id := req.Callback["user_id"]; c.Defect == IDFromCallback && id != "" {
		profile.ID = id // the callback's word for who signed in
	}
	if c.Defect == FloatID {
		// The classic: decoding into any makes every number a float64.
		var v struct{ ID any }
		if json.Unmarshal(raw, &v) == nil {
			if f, ok := v.ID.(float64); ok {
				profile.ID = strconv.FormatFloat(f, 'f', -1, 64)
			}
		}
	}
	switch c.Defect {
	case AccessTokenInRawData:
		profile.RawData = withField(profile.RawData, "token", map[string]string{"access_token": tok.AccessToken})
	case TokenAnswerInRawData:
		answer, _ := json.Marshal(map[string]any{
			"access_token": tok.AccessToken, "token_type": tok.TokenType,
			"refresh_token": tok.RefreshToken, "expires_in": int(tok.ExpiresIn.Seconds()),
		})
		profile.RawData = withField(profile.RawData, "tokenAnswer", base64.StdEncoding.EncodeToString(answer))
	}
	res := &sdk.UserInfoResult{UserInfo: profile}
	if cfg.StoreTokens {
		res.Tokens = tok.TokenSet()
	}
	return res, nil
}

// unparsed says err is oauth2kit's for an answer that does not parse, not
// for one too large to read, for the defects about malformed answers.
func unparsed(err error) bool {
	e := sdk.AsError(err)
	_, tooLarge := e.Details["limitBytes"]
	return e.Code == sdk.CodeInvalidResponse && !tooLarge
}

// redirectedTo is the Location of a redirect oauth2kit refused, for
// FollowRedirects; "" for any other error.
func redirectedTo(err error) string {
	if err == nil {
		return ""
	}
	loc, _ := sdk.AsError(err).Details["location"].(string)
	return loc
}

// flows are the sessions of FlowsByState, by state.
var flows sync.Map

// fixedPKCE is one verifier for every sign-in, for FixedPKCE and FixedNonce.
var fixedPKCE = oauth2kit.NewPKCE()

// withPlainChallenge makes the PKCE challenge of an authorization URL the
// verifier itself, with method plain, for PlainPKCE.
func withPlainChallenge(authURL, verifier string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		return authURL
	}
	q := u.Query()
	q.Set("code_challenge", verifier)
	q.Set("code_challenge_method", "plain")
	u.RawQuery = q.Encode()
	return u.String()
}

// withField returns the JSON object raw with key set to value, for the defects
// that put what does not belong into rawData.
func withField(raw json.RawMessage, key string, value any) json.RawMessage {
	var obj map[string]json.RawMessage
	v, err := json.Marshal(value)
	if err != nil || json.Unmarshal(raw, &obj) != nil {
		return raw
	}
	obj[key] = v
	out, err := json.Marshal(obj)
	if err != nil {
		return raw
	}
	return out
}

// readCallback is oauth2kit.ReadCallback written out, so that each step can go wrong.
func (c Connector) readCallback(req sdk.UserInfoRequest) (string, error) {
	got, want := req.Callback["state"], req.Session[sessionState]
	switch {
	case got == "" && want == "" && c.Defect == EmptySessionAccepted:
		// Both empty "match", as a plain comparison says.
	case len(req.Callback) == 0 && c.Defect == EmptyCallbackGeneral && want != "":
		return "", errors.New("empty callback")
	case got == "" && c.Defect == NoStateAccepted && want != "":
	case got == "":
		return "", sdk.Errorf(sdk.CodeInvalidRequestParameters, "the callback has no state")
	case want == "":
		return "", sdk.Errorf(sdk.CodeInvalidRequestParameters, "the session has no state")
	case c.Defect == ExchangeBeforeState && got != want:
		return req.Callback["code"], nil
	case subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 && c.Defect == MismatchGeneral:
		return "", errors.New("state mismatch")
	case subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1:
		return "", sdk.Errorf(sdk.CodeInvalidRequestParameters, "state mismatch")
	}
	if e := req.Callback["error"]; e != "" {
		switch c.Defect {
		case AccessDeniedGeneral:
			return "", fmt.Errorf("the provider said %s", e)
		case CrashOnAccessDenied:
			os.Exit(3)
		case HangOnAccessDenied:
			if c.Hang == nil {
				select {} // in a plugin process, which the host kills in the end
			}
			<-c.Hang
		}
		return "", sdk.Errorf(sdk.CodeAuthorizationFailed, "the provider refused: %s", e)
	}
	code := req.Callback["code"]
	if code == "" {
		if c.Defect == MissingCodeGeneral {
			return "", errors.New("no code")
		}
		return "", sdk.Errorf(sdk.CodeInsufficientRequestParameters, "the callback has no code")
	}
	return code, nil
}

// echo puts the code into an error's message, for EchoCode.
func (c Connector) echo(err error, code string) error {
	if c.Defect != EchoCode {
		return err
	}
	e := sdk.AsError(err)
	return &sdk.Error{Code: e.Code, Message: e.Message + " (code " + code + ")"}
}

// misread maps provider failures to the wrong codes, for the defects about them.
func (c Connector) misread(err error) error {
	e := sdk.AsError(err)
	switch {
	case c.Defect == AuthCodeMisread && e.Code == sdk.CodeSocialAuthCodeInvalid:
		return &sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: e.Message}
	case c.Defect == TokenInvalidGeneral && e.Code == sdk.CodeSocialAccessTokenInvalid,
		c.Defect == UnavailableGeneral && e.Code == sdk.CodeProviderUnavailable:
		return errors.New(e.Message)
	case c.Defect == TimeoutAsUnavailable && e.Code == sdk.CodeProviderTimeout:
		return &sdk.Error{Code: sdk.CodeProviderUnavailable, Message: e.Message}
	}
	return err
}

func (c Connector) Refresh(ctx context.Context, cfg *Config, refreshToken string) (*sdk.TokenSet, error) {
	switch {
	case refreshToken == "" && c.Defect == RefreshEmptyGeneral:
		return nil, errors.New("no refresh token")
	case refreshToken != "" && c.Defect == RefreshFaked:
		return &sdk.TokenSet{AccessToken: "made-up", RefreshToken: refreshToken}, nil
	}
	tok, err := cfg.token.Refresh(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	set := tok.TokenSet()
	if c.Defect == RefreshKeepsOldToken {
		set.RefreshToken = refreshToken // as if refresh tokens lasted forever
	}
	return set, nil
}
