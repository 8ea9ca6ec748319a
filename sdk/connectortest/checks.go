package connectortest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// checks is every check, in the order Run makes them.
var checks = []check{
	{"metadata/id", "the id is set and usable as a plugin file name ([a-z0-9][a-z0-9_-]*)", needNothing, checkMetadataID},
	{"metadata/target", "the target (the identity provider's name) is set", needNothing, checkMetadataTarget},
	{"metadata/platform", "the platform is Universal, Web or Native", needNothing, checkMetadataPlatform},
	{"metadata/name", "the name has an English (en) entry, and no entry is empty", needNothing, checkMetadataName},
	{"metadata/description", "the description has an English (en) entry, and no entry is empty", needNothing, checkMetadataDescription},
	{"metadata/logo", "logo is set, and logo and logoDark are http(s) URLs or data:image URLs", needNothing, checkMetadataLogo},
	{"metadata/readme", "the readme is not empty", needNothing, checkMetadataReadme},
	{"metadata/form-items", "form items have unique keys, labels, known types, choices for selects, and defaults and show conditions that fit", needNothing, checkMetadataFormItems},
	{"metadata/config-template", "the config template, when set, is a JSON object whose keys are form items", needNothing, checkMetadataConfigTemplate},
	{"metadata/bounds", "the metadata fits the bounds the host holds it to (sdk.CheckMetadata): sizes, the id's shape, no control characters", needNothing, checkMetadataBounds},

	{"config/valid", "ParseConfig accepts Options.ValidConfig, and so does the host", needNothing, checkConfigValid},
	{"config/required", "every required form item is in ValidConfig, and without it ParseConfig returns a *sdk.ConfigError naming it", needConfig, checkConfigRequired},
	{"config/form-items", "ParseConfig accepts every form item's key, with its default value", needConfig, checkConfigFormItems},
	{"config/unknown-key", "ParseConfig refuses an unknown key with a *sdk.ConfigError naming it", needConfig, checkConfigUnknownKey},
	{"config/wrong-types", "a value of the wrong JSON type gets a *sdk.ConfigError naming its key", needConfig, checkConfigWrongTypes},
	{"config/empty", "{} is refused with a *sdk.ConfigError naming every required item (or accepted when nothing is required)", needNothing, checkConfigEmpty},
	{"config/garbage", "input that is not a JSON object is refused with invalid_config, never a panic", needNothing, checkConfigGarbage},
	{"config/huge", "huge values do not panic, hang or crash ParseConfig", needNothing, checkConfigHuge},

	{"authorization/url", "the authorization URL is an absolute http(s) URL carrying the request's state and redirect_uri", needConfig, checkAuthorizationURL},
	{"authorization/state-per-request", "each request gets a URL with its own state, and its own PKCE challenge and nonce when it has them", needConfig, checkAuthorizationStatePerRequest},
	{"authorization/garbage", "empty, huge or malformed states and redirect URIs do not panic, hang or crash AuthorizationURI", needConfig, checkAuthorizationGarbage},

	{"callback/access-denied", "a callback with error=access_denied fails with authorization_failed", needConfig, checkCallbackAccessDenied},
	{"callback/state-mismatch", "a callback whose state is not the session's fails with invalid_request_parameters or authorization_failed, before any token request", needConfig, checkCallbackStateMismatch},
	{"callback/other-flow", "another sign-in's real callback (its state, a code the provider issued for it) at this sign-in's session fails with invalid_request_parameters or authorization_failed, before any token request", needProvider, checkCallbackOtherFlow},
	{"callback/no-state", "a callback without state fails with invalid_request_parameters or authorization_failed", needConfig, checkCallbackNoState},
	{"callback/missing-code", "a callback without code fails with insufficient_request_parameters", needConfig, checkCallbackMissingCode},
	{"callback/empty", "an empty callback fails with a request error", needConfig, checkCallbackEmpty},
	{"callback/empty-session", "a callback with an empty session fails with a request error, whether or not it carries a state", needConfig, checkCallbackEmptySession},
	{"callback/garbage", "huge or malformed callbacks and sessions do not panic, hang or crash UserInfo, and a mismatched state is refused", needConfig, checkCallbackGarbage},

	{"refresh/bad-token", "an empty refresh token fails with a request error (or not_implemented), and a huge one does not panic", needConfig, checkRefreshBadToken},

	{"signin/pkce", "the authorization URL carries a PKCE code_challenge with code_challenge_method=S256, and the code exchange the code_verifier it was made from (turn it off in Options.Skip for a provider without PKCE)", needProvider, checkSignInPKCE},
	{"signin/complete", "a sign-in through the fake provider returns the expected profile after exactly one token request", needProvider, checkSignInComplete},
	{"signin/injected-params", "a real callback with what a browser can add (a user id, an email, an access token the provider issued to another sign-in) signs in as the provider's user, after exactly one token request, or is refused", needProvider, checkSignInInjectedParams},
	{"signin/invalid-code", "a code the provider refuses fails with social_auth_code_invalid, after one token request", needProvider, checkSignInInvalidCode},
	{"signin/invalid-token", "an access token the provider's API refuses fails with social_invalid_access_token", needProvider, checkSignInInvalidToken},
	{"signin/provider-down", "a provider answering 503 fails with provider_unavailable", needProvider, checkSignInProviderDown},
	{"signin/numeric-id", "a numeric id above 2^53 keeps every digit", needProvider, checkSignInNumericID},
	{"signin/client-auth", "the connector authenticates at the token endpoint with the method its configuration names (client_secret_basic or client_secret_post), or the one the provider requires (WithClientAuth)", needProvider, checkSignInClientAuth},
	{"signin/refresh", "a refresh token from a sign-in renews the tokens (when the connector hands tokens back)", needProvider, checkSignInRefresh},
	{"signin/refresh-rotation", "a second refresh, with the refresh token the first returned, works: the provider rotates refresh tokens and refuses an old one", needProvider, checkSignInRefreshRotation},
	{"signin/no-redirects", "a token endpoint answering 307 or 308, and a userinfo endpoint answering 302, are not followed: the code, the client secret and the access token never reach the URL the redirect names", needProvider, checkSignInNoRedirects},
	{"signin/timeout", "a code exchange, the first request made with the access token (userinfo) and the first after the exchange without one (a key set), each held past the call's deadline (Options.CallTimeout) in a sign-in of its own, fail with provider_timeout, within the deadline", needProvider, checkSignInTimeout},
	{"signin/malformed-token", "a token answer that is not JSON, or is cut short, fails with invalid_response, never a panic or a success", needProvider, checkSignInMalformedToken},
	{"signin/malformed-profile", "a userinfo answer that is not JSON, or is cut short, fails with invalid_response, never a panic or a success", needProvider, checkSignInMalformedProfile},
	{"signin/huge-answer", "a token answer, and a userinfo answer, that do not end (chunked, no Content-Length) fail with invalid_response, the connector closing the connection before the provider wrote 8 MiB of either", needProvider, checkSignInHugeAnswer},
	{"signin/token-error-200", "a token answer of HTTP 200 with error=invalid_grant fails, without a call to the userinfo endpoint: it is never taken as success", needProvider, checkSignInTokenError200},
	{"signin/unverified-email", "an email the provider says is not verified is not in the profile (when Options.WantUser has an email)", needProvider, checkSignInUnverifiedEmail},
	{"id-token/signature", "an ID token signed with a key the provider never published fails with social_invalid_id_token (with a provider made WithIDTokens)", needProvider, checkIDTokenSignature},
	{"id-token/issuer", "an ID token from another issuer fails with social_invalid_id_token (WithIDTokens)", needProvider, checkIDTokenIssuer},
	{"id-token/audience", "an ID token for another client fails with social_invalid_id_token (WithIDTokens)", needProvider, checkIDTokenAudience},
	{"id-token/expired", "an expired ID token fails with social_invalid_id_token (WithIDTokens)", needProvider, checkIDTokenExpired},
	{"id-token/nonce", "an ID token whose nonce is another or missing fails with social_invalid_id_token (WithIDTokens, when the authorization URL carries a nonce)", needProvider, checkIDTokenNonce},
	{"id-token/missing", "a token answer without an ID token, for an authorization that asked for the openid scope, fails with social_invalid_id_token (WithIDTokens)", needProvider, checkIDTokenMissing},

	{"secrets/profile", "no profile a sign-in returned carries, in any field (rawData included), a code or token the provider issued or the client secret: not as it is, JSON-escaped, URL-encoded or base64-encoded", needProvider, checkSecretsProfile},
	{"secrets/requests", "in a sign-in, the client secret goes to the token endpoint alone, and no code or token goes in a URL", needProvider, checkSecretsRequests},
	{"secrets/never-printed", "a configuration, a sign-in and a refresh made in process write no confidential value of the configuration, code or token to the process's standard output or error (fmt.Print, log.Printf), which a plugin's host logs", needConfig, checkSecretsNeverPrinted},
	{"secrets/never-shown", "no error message, detail, log line or authorization URL, in any check, carries a confidential value of the configuration (one is planted), the authorization code or a token", needNothing, checkSecretsNeverShown},
}

// ---- helpers shared by the checks ----

func asConfigError(err error, ce **sdk.ConfigError) bool { return errors.As(err, ce) }

// defective reports err when it is a panic, a hang or a crash, and says whether it was.
func (k *kit) defective(t T, what string, err error) bool {
	t.Helper()
	var (
		p *panicError
		h *hungError
		d *diedError
	)
	switch {
	case errors.As(err, &p):
		t.Errorf("%s: %v", what, p)
		if p.stack != "" {
			t.Logf("stack of the panic:\n%s", p.stack)
		}
	case errors.As(err, &h):
		t.Errorf("%s: %v", what, h)
	case errors.As(err, &d):
		k.deathsReported.Add(1)
		t.Errorf("%s: %v", what, d)
	default:
		return false
	}
	return true
}

// wantError requires err to be an *sdk.Error with one of codes. (Whether it keeps
// secrets out of its message is for secrets/never-shown.)
func (k *kit) wantError(t T, what string, err error, codes ...sdk.ErrorCode) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded; want an error with code %s", what, orList(codes))
		return
	}
	if k.defective(t, what, err) {
		return
	}
	e := sdk.AsError(err)
	if !slices.Contains(codes, e.Code) {
		t.Errorf("%s: code %s (%s); want %s", what, e.Code, e.Message, orList(codes))
	}
}

func orList(codes []sdk.ErrorCode) string {
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = string(c)
	}
	return strings.Join(parts, " or ")
}

// withKey returns a copy of ValidConfig with key set to value.
func (k *kit) withKey(key string, value any) map[string]any {
	cfg := make(map[string]any, len(k.opts.ValidConfig)+1)
	for k, v := range k.opts.ValidConfig {
		cfg[k] = v
	}
	cfg[key] = value
	return cfg
}

// without returns a copy of ValidConfig without key.
func (k *kit) without(key string) map[string]any {
	cfg := k.withKey(key, nil)
	delete(cfg, key)
	return cfg
}

// parse sends cfg (encoded to JSON) to ParseConfig.
func (k *kit) parse(t T, cfg map[string]any) error {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("connectortest: encoding a configuration: %v", err)
	}
	return k.d.parseConfig(t.Context(), raw)
}

// names reports whether a config error names key: the key itself, or a path inside it.
func names(ce *sdk.ConfigError, key string) bool {
	for _, f := range ce.Fields {
		if f.Field == key || strings.HasPrefix(f.Field, key+".") || strings.HasPrefix(f.Field, key+"[") {
			return true
		}
	}
	return false
}

// wellFormed fails when a config error has a field without a path or a message,
// or one whose path starts with a misspelling of a form item's key: neither a
// key of given (the configuration parsed) nor an item's, but the same as an
// item's but for case, underscores and dashes ("baseURL" for baseUrl), which
// sends the operator looking for a key that does not exist.
func (k *kit) wellFormed(t T, what string, ce *sdk.ConfigError, given map[string]any) {
	t.Helper()
	for i, f := range ce.Fields {
		if strings.TrimSpace(f.Field) == "" || strings.TrimSpace(f.Message) == "" {
			t.Errorf("%s: field error %d has no field path or no message: %+v; every FieldError needs both", what, i, f)
			continue
		}
		if item := k.misspelledItem(f.Field, given); item != "" {
			t.Errorf("%s: the field error %q names no key of the configuration; the form item is %q: name the key as operators write it in every ConfigError.Add", what, truncate(f.Field+": "+f.Message, 80), item)
		}
	}
}

// misspelledItem is the form item key that the first segment of path misspells,
// or "".
func (k *kit) misspelledItem(path string, given map[string]any) string {
	key := path
	if i := strings.IndexAny(path, ".["); i >= 0 {
		key = path[:i]
	}
	if _, ok := given[key]; ok {
		return ""
	}
	for _, f := range k.meta.FormItems {
		if f.Key == key {
			return ""
		}
	}
	for _, f := range k.meta.FormItems {
		if f.Key != "" && strings.EqualFold(folded(f.Key), folded(key)) {
			return f.Key
		}
	}
	return ""
}

// unseparated drops underscores and dashes; a Replacer is safe for concurrent use.
var unseparated = strings.NewReplacer("_", "", "-", "")

// folded is a key without its underscores and dashes.
func folded(key string) string { return unseparated.Replace(key) }

func huge(n int) string { return strings.Repeat("a", n) }

// isAlnum says whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}
