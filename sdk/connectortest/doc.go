// Package connectortest checks that a connector keeps the contract idplug relies on,
// and gives its tests a fake OAuth 2.0 provider (an OpenID Provider too, with
// WithIDTokens) to sign in against.
//
// One line in a _test.go file runs every check, against the connector value or
// against the plugin binary loaded by the real host:
//
//	func TestKit(t *testing.T) {
//		p := connectortest.NewProvider(t)
//		opts := connectortest.Options{
//			ValidConfig: map[string]any{
//				"clientId":              p.ClientID(),
//				"clientSecret":          p.ClientSecret(),
//				"authorizationEndpoint": p.AuthorizationEndpoint(),
//				"tokenEndpoint":         p.TokenEndpoint(),
//				"userInfoEndpoint":      p.UserInfoEndpoint(),
//			},
//			Provider: p,
//		}
//		connectortest.Run(t, connectortest.Value(connector{}), opts) // in process: fast, panics with stacks
//		connectortest.Run(t, hosttest.Binary("."), opts)             // built, started and called by the host (host/hosttest)
//	}
//
// The checks (see Checks for the list, and Options.Skip to turn one off):
//
//   - metadata: id, target, platform, English name and description, logos that are
//     http(s) or data:image URLs, a readme, form items that make sense together.
//   - config: ParseConfig accepts ValidConfig and every form item's key; refuses a
//     missing required item, an unknown key and a wrongly typed value with a
//     *sdk.ConfigError naming the field; refuses garbage with invalid_config; never
//     panics on empty, garbage or huge input.
//   - authorization: the URL carries the request's state and redirect_uri; odd
//     input does not panic.
//   - callback: error=access_denied is authorization_failed; a state mismatch is
//     invalid_request_parameters or authorization_failed, before any token request;
//     a missing code is insufficient_request_parameters; empty sessions and callbacks,
//     huge and odd values are refused without a panic.
//   - refresh: an empty refresh token is a request error.
//   - signin (with Options.Provider): the authorization URL carries a PKCE S256
//     code_challenge and the code exchange the code_verifier it was made from (a
//     connector whose provider has no PKCE turns signin/pkce off in Options.Skip);
//     a whole sign-in returns the expected profile after exactly one token
//     request; a refused code is social_auth_code_invalid,
//     a refused access token social_invalid_access_token, a provider answering 503
//     provider_unavailable; a numeric id above 2^53 keeps every digit; each client
//     authentication method the configuration offers (or the one the provider
//     requires, WithClientAuth) is the one used; a refresh token renews the
//     tokens, and the rotated one works for the next refresh; a code exchange,
//     the first request made with the access token and the first after the
//     exchange without one, each held past the call's deadline, are
//     provider_timeout, within the deadline; token and userinfo answers that
//     are not JSON or are cut short are invalid_response, and so are answers
//     that do not end, of which the connector reads less than 8 MiB; a token
//     error answered with HTTP 200 is an error; an email the provider has not
//     verified is left out of the profile. The checks that need a working
//     sign-in skip when signin/complete fails (or signin/pkce saw the provider
//     refuse the code_verifier), so that a broken sign-in is reported once.
//   - id-token (with a provider made WithIDTokens): an ID token that is forged,
//     from another issuer, for another client, expired, or with another nonce or
//     none, and a token answer without one, are social_invalid_id_token. They do
//     not apply to a connector that asks for no openid scope.
//   - secrets: no error message, detail or log line, in any check, carries a
//     confidential value of the configuration, the authorization code, or a code or
//     token the provider issued; no profile a sign-in returned carries, in any
//     field, rawData included, a code or token the provider issued or the client
//     secret, whether as it is, JSON-escaped, URL-encoded or base64-encoded;
//     in process, nothing a configuration, a sign-in and a refresh print to the
//     process's standard output or error (fmt.Print, log.Printf) carries any of
//     them.
//
// A skipped check logs why, and Run lists the skips at the end; with
// Options.Strict, a skip that Options.Skip did not ask for is a failure (but for
// a check that does not apply: an id-token check when the connector asks for no
// ID token, secrets/never-printed when it runs in a process of its own).
//
// A connector that declares authorization templates (sdk.AuthorizationTemplater)
// checks with CheckAuthorizationTemplate that the host, building from the
// template, builds the URL and session its AuthorizationURI returns.
//
// Checks report through T, which *testing.T satisfies; a test double that records
// failures satisfies it too, which is how this package's own tests prove that each
// check catches the defect it is for.
package connectortest
