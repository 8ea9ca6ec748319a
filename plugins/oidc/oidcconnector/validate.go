package oidcconnector

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

const (
	// defaultRequestTimeout (and oauth2kit.MaxRequestTimeout) keep every provider call
	// inside the host's 10s call deadline, so a slow provider is reported as provider_timeout.
	defaultRequestTimeout = oauth2kit.DefaultRequestTimeout
	// defaultClockTolerance is the skew allowed on exp, iat and nbf.
	defaultClockTolerance = 30 * time.Second
	maxClockTolerance     = 5 * time.Minute
	// authTimeGrace is added to max_age when auth_time is checked: the time a
	// person may spend at the provider between the authorization request and the
	// code exchange, which the check, made at the exchange, also counts.
	authTimeGrace = 5 * time.Minute
	// defaultMinKeyRefresh is the floor between two fetches of the discovery
	// document or the JWK set that an unknown key id forces: a stream of forged
	// tokens cannot turn the connector into a traffic source against the provider.
	defaultMinKeyRefresh = 30 * time.Second
)

// asymmetricAlgorithms may verify ID tokens against the provider's JWK set.
var asymmetricAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// hmacAlgorithms verify ID tokens with the client secret, only when configured.
var hmacAlgorithms = []string{"HS256", "HS384", "HS512"}

// check validates every field, recording each problem, and builds the instance.
// The instance is only meaningful when no problem was recorded.
func (c *config) check(p *sdk.ConfigError) *Instance {
	var idc idTokenConfig
	if decodeNested(c.IDTokenVerificationConfig, "idTokenVerificationConfig", &idc, p) && c.Issuer == "" && idc.JWKSURI == "" {
		p.Add("idTokenVerificationConfig.jwksUri", "is required unless issuer is set (discovery finds it)")
	}
	if len(c.IDTokenVerificationConfig) == 0 && c.Issuer == "" {
		p.Add("idTokenVerificationConfig", "is required unless issuer is set (discovery finds the keys)")
	}
	var arc authRequestConfig
	decodeNested(c.AuthRequestOptionalConfig, "authRequestOptionalConfig", &arc, p)

	c.checkFixedValues(p)
	httpClient := c.CheckHTTPClient(p, defaultUserAgent())
	auth := c.clientAuth(p)
	issuers := c.issuers(&idc, p)
	static := c.staticEndpoints(&idc, p)
	prov := newProvider(c.Issuer, issuers, static, httpClient, c.minKeyRefresh(p))
	prov.endpointHosts = checkEndpointHosts(c.EndpointHosts, p)
	authParams := c.authParams(&arc, p)
	in := &Instance{
		clientID:    c.ClientID,
		scope:       c.checkedScope(p),
		pkce:        c.CheckPKCE(p),
		formPost:    arc.ResponseMode == "form_post",
		authParams:  authParams,
		storeTokens: c.StoreTokens,
		fetchInfo:   c.UserInfoEndpoint != "" || (c.FetchUserInfo != nil && *c.FetchUserInfo),
		provider:    prov,
		token: &oauth2kit.TokenEndpoint{
			Auth:   auth,
			Format: c.CheckResponseFormat(p),
			Extra:  c.customParams(p),
			HTTP:   httpClient,
		},
		userInfo:     &oauth2kit.UserInfoEndpoint{HTTP: httpClient},
		verification: c.verification(&idc, p),
	}
	in.verification.authAge, in.verification.authAgeAsked = checkMaxAge(authParams["max_age"], arc.MaxAge, p)
	in.verification.loginAsked = slices.Contains(strings.Fields(authParams["prompt"]), "login")
	in.verification.acrs = c.requiredACRs(authParams["acr_values"], p)
	if c.FetchUserInfo != nil && *c.FetchUserInfo && c.UserInfoEndpoint == "" && c.Issuer == "" {
		p.Add("fetchUserInfo", "needs userInfoEndpoint, or issuer to discover it")
	}
	return in
}

// requiredACRs are the acr values an ID token may carry under requireAcr: those
// the authorization request asks for (authRequestOptionalConfig.acrValues, or
// customConfig.acr_values over it). acr_values is only a request (OIDC Core
// 3.1.2.1), which a provider may not meet, or the browser drop: requireAcr is
// the check OIDC Core 3.1.3.7 step 12 leaves to the client.
func (c *config) requiredACRs(sent string, p *sdk.ConfigError) map[string]bool {
	if !c.RequireACR {
		return nil
	}
	values := strings.Fields(sent)
	if len(values) == 0 {
		p.Add("requireAcr", "needs the acr values to require: set authRequestOptionalConfig.acrValues")
		return nil
	}
	acrs := make(map[string]bool, len(values))
	for _, v := range values {
		acrs[v] = true
	}
	return acrs
}

// checkMaxAge reads the max_age the authorization request sends (from
// authRequestOptionalConfig.maxAge, or customConfig over it): a whole number of
// seconds (OIDC Core 3.1.2.1).
func checkMaxAge(sent, fromAuthRequest string, p *sdk.ConfigError) (time.Duration, bool) {
	if sent == "" {
		return 0, false
	}
	field := "customConfig.max_age"
	if sent == fromAuthRequest {
		field = "authRequestOptionalConfig.maxAge"
	}
	n, err := strconv.ParseUint(sent, 10, 32)
	if err != nil {
		p.Add(field, "must be a whole number of seconds, got %q", sent)
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// decodeNested decodes an object-valued field as strictly as the top level, naming
// its bad keys with the field's path. It reports whether the field was present.
func decodeNested(raw json.RawMessage, field string, dst any, p *sdk.ConfigError) bool {
	if len(raw) == 0 {
		return false
	}
	var inner sdk.ConfigError
	if err := sdk.DecodeConfig(raw, dst, &inner); err != nil {
		p.Add(field, "must be an object")
		return false
	}
	for _, f := range inner.Fields {
		p.Add(field+"."+f.Field, "%s", f.Message)
	}
	return true
}

func (c *config) checkFixedValues(p *sdk.ConfigError) {
	c.CheckResponseAndGrantType(p)
	if c.ClientID == "" {
		p.Add("clientId", "is required")
	}
}

// checkedScope adds openid when it is missing, as Logto does: without it the
// provider answers with plain OAuth 2.0 and no ID token. Logto also splits on '+'.
func (c *config) checkedScope(p *sdk.ConfigError) string {
	return withOpenID(c.Scope)
}

// withOpenID returns scope with openid in it, its tokens separated by single spaces.
func withOpenID(scope string) string {
	tokens := strings.FieldsFunc(scope, func(r rune) bool { return r == ' ' || r == '+' })
	if !slices.Contains(tokens, "openid") {
		tokens = append([]string{"openid"}, tokens...)
	}
	return strings.Join(tokens, " ")
}

// notATemplate refuses a configured issuer with a "{": a "{tenantid}" there
// would be filled with any token's tid, and let every tenant in. Only
// discovery for the Microsoft preset's multi-tenant endpoints may name one.
const notATemplate = `must not be a template, got %q: Microsoft's "{tenantid}" issuer is taken only from discovery, with provider microsoft at tenant common or organizations`

// issuers is who may issue ID tokens: the discovery issuer, or
// idTokenVerificationConfig.issuer (a string or a list of strings).
func (c *config) issuers(idc *idTokenConfig, p *sdk.ConfigError) []string {
	var list []string
	if len(idc.Issuer) > 0 {
		var one string
		if json.Unmarshal(idc.Issuer, &one) == nil {
			list = []string{one}
		} else if json.Unmarshal(idc.Issuer, &list) != nil {
			p.Add("idTokenVerificationConfig.issuer", "must be a string or a list of strings")
			return nil
		}
		for _, iss := range list {
			switch {
			case iss == "":
				p.Add("idTokenVerificationConfig.issuer", "must not be empty")
			case strings.Contains(iss, "{"):
				p.Add("idTokenVerificationConfig.issuer", notATemplate, clean(iss))
			}
		}
	}
	if c.Issuer != "" {
		if err := oauth2kit.CheckSecureURL(c.Issuer); err != nil {
			// Discovery over http would let the network choose the endpoints.
			p.Add("issuer", "%v", err)
		} else if strings.Contains(c.Issuer, "{") {
			p.Add("issuer", notATemplate, clean(c.Issuer))
		}
		if len(list) > 0 && !slices.Contains(list, c.Issuer) && !strings.Contains(c.Issuer, "{") {
			p.Add("idTokenVerificationConfig.issuer", "names issuers other than issuer %q; leave it out to take the discovered one", c.Issuer)
		}
		return nil // the discovered issuer, checked equal to c.Issuer
	}
	if len(list) == 0 && len(c.IDTokenVerificationConfig) > 0 {
		p.Add("idTokenVerificationConfig.issuer", "is required unless issuer is set: every ID token's iss must be checked (OIDC Core 3.1.3.7)")
	}
	return list
}

// staticEndpoints are the endpoints given one by one. With issuer set they
// override what discovery finds; without it they are all there is.
func (c *config) staticEndpoints(idc *idTokenConfig, p *sdk.ConfigError) endpoints {
	e := endpoints{
		Authorization: c.AuthorizationEndpoint,
		Token:         c.TokenEndpoint,
		UserInfo:      c.UserInfoEndpoint,
		JWKS:          idc.JWKSURI,
	}
	for _, f := range []struct{ field, value string }{
		{"authorizationEndpoint", e.Authorization},
		{"tokenEndpoint", e.Token},
		{"userInfoEndpoint", e.UserInfo},
		{"idTokenVerificationConfig.jwksUri", e.JWKS},
	} {
		if f.value == "" {
			if c.Issuer == "" && f.field != "userInfoEndpoint" && f.field != "idTokenVerificationConfig.jwksUri" {
				p.Add(f.field, "is required unless issuer is set (discovery finds it)")
			}
			continue
		}
		// As for the issuer: the token endpoint gets the client secret and
		// the code, and the JWK set and userinfo are believed as they come.
		if err := oauth2kit.CheckSecureURL(f.value); err != nil {
			p.Add(f.field, "%v", err)
		}
	}
	return e
}

// verification checks how ID tokens are verified.
func (c *config) verification(idc *idTokenConfig, p *sdk.ConfigError) verification {
	v := verification{clientID: c.ClientID, subject: idc.Subject, typ: idc.Typ, skew: defaultClockTolerance}
	for _, alg := range idc.Algorithms {
		switch {
		case strings.EqualFold(alg, "none"):
			p.Add("idTokenVerificationConfig.algorithms", "\"none\" is never accepted: an unsigned ID token proves nothing")
		case slices.Contains(hmacAlgorithms, alg):
			if c.ClientSecret == "" {
				p.Add("idTokenVerificationConfig.algorithms", "%s verifies with the client secret, and clientSecret is not set", alg)
			}
			v.hmacSecret = []byte(c.ClientSecret)
		case !slices.Contains(asymmetricAlgorithms, alg):
			p.Add("idTokenVerificationConfig.algorithms", "unknown algorithm %q; use %s", alg, strings.Join(append(slices.Clone(asymmetricAlgorithms), hmacAlgorithms...), ", "))
		}
	}
	v.algorithms = slices.Clone(idc.Algorithms)
	if len(idc.ClockTolerance) > 0 {
		d, err := seconds(idc.ClockTolerance, true)
		switch {
		case err != nil:
			p.Add("idTokenVerificationConfig.clockTolerance", "%v", err)
		case d > maxClockTolerance:
			p.Add("idTokenVerificationConfig.clockTolerance", "must be at most %s", maxClockTolerance)
		default:
			v.skew = d
		}
	}
	if len(idc.MaxTokenAge) > 0 {
		d, err := seconds(idc.MaxTokenAge, false)
		if err != nil {
			p.Add("idTokenVerificationConfig.maxTokenAge", "%v", err)
		}
		v.maxAge = d
	}
	if len(idc.Audience) > 0 {
		var one string
		var list []string
		if json.Unmarshal(idc.Audience, &one) == nil {
			list = []string{one}
		} else if json.Unmarshal(idc.Audience, &list) != nil {
			p.Add("idTokenVerificationConfig.audience", "must be a string or a list of strings")
		}
		// Logto replaces audience with the client id; so does idplug, and says so
		// when the configured one could never match.
		if len(list) > 0 && !slices.Contains(list, c.ClientID) {
			p.Add("idTokenVerificationConfig.audience", "the ID token's aud must contain clientId %q; leave audience out", c.ClientID)
		}
	}
	for name, understood := range idc.Crit {
		if understood {
			p.Add("idTokenVerificationConfig.crit."+name, "no critical header parameter is understood; ID tokens that name one are refused")
		}
	}
	return v
}

// seconds reads a number of seconds or a duration ("30s", also jose's "30 seconds").
func seconds(raw json.RawMessage, zeroOK bool) (time.Duration, error) {
	d, ok := oauth2kit.ParseDuration(raw)
	if !ok {
		var text string
		_ = json.Unmarshal(raw, &text)
		if n, unit, found := strings.Cut(strings.TrimSpace(text), " "); found {
			if dd, err := time.ParseDuration(n + unitSuffix(unit)); err == nil {
				d, ok = dd, true
			}
		}
	}
	switch {
	case !ok:
		return 0, fmt.Errorf("must be a number of seconds or a duration such as \"30s\"")
	case d < 0 || (d == 0 && !zeroOK):
		return 0, fmt.Errorf("must be more than zero")
	}
	return d, nil
}

func unitSuffix(unit string) string {
	switch strings.TrimSuffix(strings.ToLower(unit), "s") {
	case "sec", "second":
		return "s"
	case "min", "minute":
		return "m"
	case "hour", "hr":
		return "h"
	}
	return unit
}

// authParams are the extra authorization request parameters: Logto's
// authRequestOptionalConfig snake_cased, then customConfig over them.
func (c *config) authParams(arc *authRequestConfig, p *sdk.ConfigError) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{
		"response_mode": arc.ResponseMode, "display": arc.Display, "prompt": arc.Prompt, "max_age": arc.MaxAge,
		"ui_locales": arc.UILocales, "id_token_hint": arc.IDTokenHint, "login_hint": arc.LoginHint, "acr_values": arc.ACRValues,
	} {
		if v != "" {
			out[k] = v
		}
	}
	switch arc.ResponseMode {
	case "", "query", "form_post":
	default:
		p.Add("authRequestOptionalConfig.responseMode", "must be \"query\" or \"form_post\" (the code flow's modes), got %q", arc.ResponseMode)
	}
	for k, v := range c.customParams(&sdk.ConfigError{}) { // customParams reports its problems once, in check
		out[k] = v
	}
	return out
}

func (c *config) minKeyRefresh(p *sdk.ConfigError) time.Duration {
	if len(c.MinKeyRefreshInterval) == 0 {
		return defaultMinKeyRefresh
	}
	d, err := seconds(c.MinKeyRefreshInterval, true)
	if err != nil {
		p.Add("minKeyRefreshInterval", "%v", err)
	}
	return d
}

// customParams checks customConfig: string values, sent as written, and never a
// protocol parameter or the nonce.
func (c *config) customParams(p *sdk.ConfigError) map[string]string {
	return c.CheckCustomConfig(p, "nonce")
}
