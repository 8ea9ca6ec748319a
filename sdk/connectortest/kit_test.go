package connectortest_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/kitconn"
	"github.com/idplug/idplug/internal/kitrecord"
	"github.com/idplug/idplug/sdk/connectortest"
)

// defects is one deliberately broken connector per check: each must fail exactly
// the checks listed (usually one), with a message containing msg, and pass the rest.
var defects = []struct {
	defect   string
	provider bool
	want     []string
	msg      string
}{
	{kitconn.BadID, false, []string{"metadata/bounds", "metadata/id"}, "match"},
	{kitconn.NoTarget, false, []string{"metadata/target"}, "no target"},
	{kitconn.BadPlatform, false, []string{"metadata/platform"}, `"Desktop"`},
	{kitconn.NoEnglishName, false, []string{"metadata/name"}, "no English entry"},
	{kitconn.EmptyDescription, false, []string{"metadata/description"}, `"de" entry is empty`},
	{kitconn.BadLogo, false, []string{"metadata/bounds", "metadata/logo"}, "ftp://"},
	{kitconn.NoReadme, false, []string{"metadata/readme"}, "readme is empty"},
	{kitconn.HugeReadme, false, []string{"metadata/bounds"}, "the host would refuse this plugin: metadata readme has 88007 bytes; at most 65536"},
	{kitconn.SelectWithoutItems, false, []string{"metadata/form-items"}, "Select without select items"},
	{kitconn.DefaultNotSelectable, false, []string{"metadata/form-items"}, `"none" is not one of the select items`},
	{kitconn.ShowUnknownKey, false, []string{"metadata/form-items"}, `names "promptMode", which is no form item`},
	{kitconn.TemplateUnknownKey, false, []string{"metadata/config-template"}, `sets "prompts"`},

	{kitconn.RefuseValid, false, []string{"config/valid"}, "clientId: is refused"},
	{kitconn.RequiredNotEnforced, false, []string{"config/empty", "config/required"}, `want a field error for the required item "scope"`},
	{kitconn.FormKeyMismatch, false, []string{"config/form-items"}, `"scopes" set to ""`},
	{kitconn.IgnoreUnknownKeys, false, []string{"config/unknown-key"}, "accepted"},
	{kitconn.TypeErrorWithoutField, false, []string{"config/wrong-types"}, "want a *sdk.ConfigError naming"},
	{kitconn.FirstProblemOnly, false, []string{"config/empty"}, "want a field error for the required item"},
	{kitconn.PanicOnGarbageConfig, false, []string{"config/garbage"}, "ParseConfig panicked: unexpected configuration"},
	{kitconn.AcceptGarbageConfig, false, []string{"config/garbage"}, "accepted; a configuration must be a JSON object"},
	{kitconn.PanicOnHugeConfig, false, []string{"config/huge"}, "ParseConfig panicked: configuration too large"},
	{kitconn.MisspelledField, false, []string{"config/huge"}, `names no key of the configuration; the form item is "authorizationEndpoint"`},
	{kitconn.EchoConfig, false, []string{"secrets/never-shown"}, `shows the value of the confidential item "clientSecret"`},

	{kitconn.NoStateInURL, false, []string{"authorization/state-per-request", "authorization/url"}, "state parameter"},
	{kitconn.PanicOnEmptyState, false, []string{"authorization/garbage"}, "AuthorizationURI panicked: no state"},
	{kitconn.SecretInURL, false, []string{"secrets/never-shown"}, `authorization/url: the authorization URL shows the value of the confidential item "clientSecret"`},
	{kitconn.FixedPKCE, false, []string{"authorization/state-per-request"}, "two authorization URLs carry the same code_challenge"},
	{kitconn.FixedNonce, true, []string{"authorization/state-per-request"}, "two authorization URLs carry the same nonce"},

	{kitconn.AccessDeniedGeneral, false, []string{"callback/access-denied"}, "code general"},
	{kitconn.MismatchGeneral, false, []string{"callback/state-mismatch"}, "code general"},
	{kitconn.ExchangeBeforeState, true, []string{"callback/other-flow", "callback/state-mismatch"}, "exchanged the code"},
	{kitconn.SecretToUserInfo, true, []string{"secrets/requests"}, "carries the provider's client secret in its query: the client's credentials are for the token endpoint alone"},
	{kitconn.TokenInQuery, true, []string{"secrets/requests"}, "carries a code or token in its URL"},
	{kitconn.FollowRedirects, true, []string{"signin/no-redirects"}, "the connector sent its request again to the URL the redirect names (POST /connectortest-moved)"},
	{kitconn.IDFromCallback, true, []string{"signin/injected-params"}, `signed in as "connectortest-injected-user"`},
	{kitconn.TokenFromCallback, true, []string{"signin/injected-params"}, "made 0 token requests; want exactly one"},
	{kitconn.FlowsByState, true, []string{"callback/other-flow"}, "UserInfo with another sign-in's callback (a live flow's state, a code the provider issued for it): succeeded"},
	{kitconn.NoStateAccepted, false, []string{"callback/no-state"}, "social_auth_code_invalid"},
	{kitconn.MissingCodeGeneral, false, []string{"callback/missing-code"}, "want insufficient_request_parameters"},
	{kitconn.EmptyCallbackGeneral, false, []string{"callback/empty"}, "code general"},
	{kitconn.EmptySessionAccepted, false, []string{"callback/empty-session"}, "a code but no state"},
	{kitconn.PanicOnHugeCallback, false, []string{"callback/garbage"}, "UserInfo panicked: callback value too large"},
	{kitconn.EchoCode, false, []string{"secrets/never-shown"}, "callback/state-mismatch: the error of UserInfo shows the authorization code of a callback"},
	{kitconn.LogToken, true, []string{"secrets/never-shown"}, "signin/complete: a log line shows a code or token the provider issued"},
	{kitconn.PrintsTokens, true, []string{"secrets/never-printed"}, "the process's standard error shows a code or token the provider issued, printed while"},
	{kitconn.AccessTokenInRawData, true, []string{"secrets/profile"}, "the profile's rawData carries an access token the provider issued (at rawData.token.access_token)"},
	{kitconn.TokenAnswerInRawData, true, []string{"secrets/profile"}, "the profile's rawData carries an access token the provider issued (at rawData.tokenAnswer, base64-encoded)"},

	{kitconn.RefreshEmptyGeneral, false, []string{"refresh/bad-token"}, "code general"},

	{kitconn.NoPKCE, true, []string{"signin/pkce"}, "the authorization URL carries no code_challenge"},
	{kitconn.WrongVerifier, true, []string{"signin/pkce"}, "the code exchange's code_verifier does not match the authorization URL's code_challenge"},
	{kitconn.PlainPKCE, true, []string{"signin/pkce"}, `the authorization URL's code_challenge_method is "plain"; want S256`},
	{kitconn.WrongNameField, true, []string{"signin/complete"}, "the profile has no name"},
	{kitconn.ExchangeTwice, true, []string{"signin/invalid-code", "signin/provider-down"}, "2 token requests"},
	{kitconn.AuthCodeMisread, true, []string{"signin/invalid-code"}, "want social_auth_code_invalid"},
	{kitconn.TokenInvalidGeneral, true, []string{"signin/invalid-token"}, "want social_invalid_access_token"},
	{kitconn.UnavailableGeneral, true, []string{"signin/provider-down"}, "want provider_unavailable"},
	{kitconn.RefreshFaked, true, []string{"signin/refresh"}, "Refresh made no token request"},
	{kitconn.NoProfileID, true, []string{"signin/complete"}, `no value at "user_id"`},
	{kitconn.FloatID, true, []string{"signin/numeric-id"}, `"9007199254740992" for the numeric id 9007199254740993`},
	{kitconn.IgnoreAuthMethod, true, []string{"signin/client-auth"}, `with tokenEndpointAuthMethod "client_secret_basic", the connector authenticated with client_secret_post`},
	{kitconn.RefreshKeepsOldToken, true, []string{"signin/refresh-rotation"}, "the second Refresh, with the refresh token the first returned, failed"},
	{kitconn.TimeoutAsUnavailable, true, []string{"signin/timeout"}, "code provider_unavailable"},
	{kitconn.NoUserInfoDeadline, true, []string{"signin/timeout"}, "UserInfo when GET /userinfo, the first request made with the access token, does not answer within the call's deadline (3s): UserInfo did not return within 3s"},
	{kitconn.UnboundedBody, true, []string{"signin/huge-answer"}, "MiB of it (the provider gives up at 16 MiB); want it to close the connection before 8 MiB"},
	{kitconn.MalformedTokenGeneral, true, []string{"signin/malformed-token"}, "code general"},
	{kitconn.MalformedProfileSuccess, true, []string{"signin/malformed-profile"}, "succeeded; want an error with code invalid_response"},
	{kitconn.TokenError200Ignored, true, []string{"signin/token-error-200"}, "went on to call the userinfo endpoint"},
	{kitconn.IgnoreEmailVerified, true, []string{"signin/unverified-email"}, "which the provider says is not verified"},
	{kitconn.IDTokenSignatureUnchecked, true, []string{"id-token/signature"}, "with an ID token signed with a key the provider never published: succeeded; want an error with code social_invalid_id_token"},
	{kitconn.IDTokenIssuerUnchecked, true, []string{"id-token/issuer"}, "whose iss is another issuer: succeeded"},
	{kitconn.IDTokenAudienceUnchecked, true, []string{"id-token/audience"}, "whose aud is another client: succeeded"},
	{kitconn.IDTokenExpiryUnchecked, true, []string{"id-token/expired"}, "that expired an hour ago: succeeded"},
	{kitconn.IDTokenNonceUnchecked, true, []string{"id-token/nonce"}, "whose nonce is another flow's: succeeded"},
	{kitconn.IDTokenNonceOptional, true, []string{"id-token/nonce"}, "without the nonce the authorization URL sent: succeeded"},
	{kitconn.IDTokenMissingAccepted, true, []string{"id-token/missing"}, "a token answer without the ID token the openid scope asks for: succeeded"},
}

func TestAGoodConnectorPassesEveryCheck(t *testing.T) {
	rec := kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.None)), kitconn.KitOptions(t, true))
	if failed := rec.Failed(); len(failed) > 0 {
		t.Fatalf("failed checks %v:%s", failed, rec)
	}
	if strings.Contains(rec.String(), "skipped") {
		t.Errorf("with a provider, no check should be skipped:%s", rec)
	}
}

func TestEachDefectFailsItsCheckOnly(t *testing.T) {
	for _, d := range defects {
		t.Run(d.defect, func(t *testing.T) {
			t.Parallel()
			rec := kitrecord.Run(t, connectortest.Value(kitconn.New(d.defect)), kitconn.KitOptions(t, d.provider))
			kitrecord.AssertFailed(t, rec, d.want, d.msg)
		})
	}
}

func TestAHungCallIsReported(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	opts := kitconn.KitOptions(t, false)
	opts.CallTimeout = time.Second
	rec := kitrecord.Run(t, connectortest.Value(kitconn.Connector{Defect: kitconn.HangOnAccessDenied, Hang: hang}), opts)
	kitrecord.AssertFailed(t, rec, []string{"callback/access-denied"}, "UserInfo did not return within 1s")
}

func TestEveryCheckHasADefect(t *testing.T) {
	covered := map[string]bool{}
	for _, d := range defects {
		for _, c := range d.want {
			covered[c] = true
		}
	}
	for _, c := range connectortest.Checks() {
		if !covered[c.Name] {
			t.Errorf("no defect in the table proves that %s catches anything", c.Name)
		}
	}
}

func TestSkip(t *testing.T) {
	opts := kitconn.KitOptions(t, false)
	opts.Skip = map[string]string{"metadata": "testing Skip", "callback/missing-code": "testing Skip"}
	rec := kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.NoReadme)), opts)
	if failed := rec.Failed(); len(failed) > 0 {
		t.Fatalf("a skipped check failed: %v%s", failed, rec)
	}
	if n := strings.Count(rec.String(), "skipped by Options.Skip: testing Skip"); n != 11 {
		t.Errorf("%d checks say they were skipped, want 11 (10 metadata, 1 callback):%s", n, rec)
	}

	opts.Skip = map[string]string{"callback/missing-cod": "a typo"}
	rec = kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.None)), opts)
	kitrecord.AssertFailed(t, rec, []string{""}, `Options.Skip names "callback/missing-cod", which is no check`)
}

func TestWithoutValidConfigOnlyTheConfigFreeChecksRun(t *testing.T) {
	rec := kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.None)), connectortest.Options{})
	kitrecord.AssertFailed(t, rec, []string{"config/valid"}, "Options.ValidConfig is not set")
}

// flat is a T that cannot run subtests.
type flat struct{ connectortest.T }

func TestATWithoutRunGetsPrefixedMessages(t *testing.T) {
	r := kitrecord.New(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		connectortest.Run(flat{r}, connectortest.Value(kitconn.New(kitconn.NoReadme)), kitconn.KitOptions(t, false))
	}()
	<-done
	if got := r.Records().Messages(""); !strings.HasPrefix(got, "metadata/readme: the readme is empty") {
		t.Errorf("messages = %q, want them prefixed with the check's name", got)
	}
}

// Under Strict a check that skips because another one failed, and named the
// defect, stays a skip: one defect is one failure, not one for every check
// built on it. With that check turned off in Options.Skip, nothing named the
// defect, and the skips fail as any other.
func TestStrictReportsADefectOnce(t *testing.T) {
	for defect, check := range map[string]string{kitconn.NoProfileID: "signin/complete", kitconn.RefuseValid: "config/valid"} {
		opts := kitconn.KitOptions(t, true)
		opts.Strict = true
		rec := kitrecord.Run(t, connectortest.Value(kitconn.New(defect)), opts)
		if failed := rec.Failed(); !slices.Equal(failed, []string{check}) {
			t.Errorf("%s under Strict: failed %v, want %s alone:%s", defect, failed, check, rec)
		}
	}
	opts := kitconn.KitOptions(t, true)
	opts.Strict = true
	opts.Skip = map[string]string{"config/valid": "testing Strict"}
	rec := kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.RefuseValid)), opts)
	if failed := rec.Failed(); !slices.Contains(failed, "signin/timeout") {
		t.Errorf("with config/valid turned off, a check that needs its configuration skipped quietly: failed %v:%s", failed, rec)
	}
}

// When the profile the kit serves has no field by the name it marks
// unverified, the kit added it, and says so: the connector may read another.
func TestUnverifiedEmailSaysWhenTheKitAddedTheField(t *testing.T) {
	opts := kitconn.KitOptions(t, true)
	opts.Provider.SetProfile(strings.Replace(connectortest.DefaultProfile, `"email_verified":true,`, "", 1))
	rec := kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.IgnoreEmailVerified)), opts)
	if msg := rec.Messages("signin/unverified-email"); !strings.Contains(msg, "the kit added email_verified, which the profile it serves (WithProfile) does not have") {
		t.Errorf("signin/unverified-email: %q", msg)
	}
	opts = kitconn.KitOptions(t, true)
	rec = kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.IgnoreEmailVerified)), opts)
	if msg := rec.Messages("signin/unverified-email"); msg == "" || strings.Contains(msg, "the kit added") {
		t.Errorf("with the field in the profile: %q", msg)
	}
}

func TestStrictMakesASkipAFailure(t *testing.T) {
	opts := kitconn.KitOptions(t, false) // no provider: the signin checks cannot run
	opts.Strict = true
	opts.Skip = map[string]string{"signin/complete": "testing Strict"}
	rec := kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.None)), opts)
	failed := rec.Failed()
	if slices.Contains(failed, "signin/complete") {
		t.Errorf("a check turned off in Options.Skip failed under Strict:%s", rec)
	}
	if !slices.Contains(failed, "signin/timeout") || !strings.Contains(rec.Messages("signin/timeout"), "Options.Strict makes a skip a failure") {
		t.Errorf("under Strict, a skipped check does not fail saying why:%s", rec)
	}

	opts.Strict = false
	rec = kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.None)), opts)
	if failed := rec.Failed(); len(failed) > 0 {
		t.Fatalf("without Strict, skips failed: %v%s", failed, rec)
	}
	if !strings.Contains(rec.String(), "check(s) skipped:") || !strings.Contains(rec.String(), "signin/timeout: set Options.Provider") {
		t.Errorf("the skips are not listed with their reasons:%s", rec)
	}
}

// withPlainProvider is KitOptions pointed at a fresh provider without ID tokens,
// the connector asking for scope.
func withPlainProvider(t *testing.T, scope string) connectortest.Options {
	opts := kitconn.KitOptions(t, true)
	p := connectortest.NewProvider(t)
	opts.Provider = p
	for k, v := range map[string]any{
		"authorizationEndpoint": p.AuthorizationEndpoint(), "tokenEndpoint": p.TokenEndpoint(),
		"userInfoEndpoint": p.UserInfoEndpoint(), "clientId": p.ClientID(), "clientSecret": p.ClientSecret(), "scope": scope,
	} {
		opts.ValidConfig[k] = v
	}
	opts.Strict = true
	return opts
}

// TestIDTokenChecksUnderStrict: for a connector that asks for no ID token, the
// ID token checks do not apply, and Strict passes; one that asks for the openid
// scope while the provider issues none must say, in Options.Skip, that it reads
// none, or give the provider WithIDTokens.
func TestIDTokenChecksUnderStrict(t *testing.T) {
	t.Parallel()
	idChecks := []string{"id-token/audience", "id-token/expired", "id-token/issuer",
		"id-token/missing", "id-token/nonce", "id-token/signature"}

	rec := kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.None)), withPlainProvider(t, "profile"))
	if failed := rec.Failed(); len(failed) > 0 {
		t.Fatalf("a plain OAuth 2.0 connector failed under Strict: %v%s", failed, rec)
	}
	if !strings.Contains(rec.String(), "id-token/signature: does not apply: the authorization URL does not ask for the openid scope") {
		t.Errorf("the checks that do not apply are not listed with the skips:%s", rec)
	}

	opts := withPlainProvider(t, "openid profile")
	rec = kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.IDTokenMissingAccepted)), opts)
	if failed := rec.Failed(); !slices.Equal(failed, idChecks) || !strings.Contains(rec.Messages("id-token/missing"), "connectortest.WithIDTokens()") {
		t.Errorf("asking for openid against a provider without ID tokens, failed %v; want %v, naming WithIDTokens:%s", failed, idChecks, rec)
	}
	opts.Skip = map[string]string{"id-token": "reads the profile from userinfo only"}
	rec = kitrecord.Run(t, connectortest.Value(kitconn.New(kitconn.IDTokenMissingAccepted)), opts)
	if failed := rec.Failed(); len(failed) > 0 {
		t.Errorf("with the ID token checks turned off, failed %v%s", failed, rec)
	}
}
