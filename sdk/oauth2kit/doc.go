// Package oauth2kit holds the pieces of an OAuth 2.0 authorization code client that
// every social connector needs, so that a provider-specific connector is mostly
// configuration:
//
//   - ClientConfig holds the fields of a configuration in Logto's shape that every
//     OAuth 2.0 client has (client id and authentication, scope, customConfig,
//     pkce, the HTTP settings), for a connector's config struct to embed;
//     DecodeConfig and ParseConfig read such a struct, and its Check methods
//     report every bad field.
//   - AuthorizationURL builds the URL that starts a sign-in, merged into the
//     endpoint's own query, with PKCE (NewPKCE) and extra parameters that can never
//     overwrite protocol parameters; StartAuthorization also makes the session its
//     callback is checked against.
//   - ReadCallback checks the provider's callback (state, RFC 9207 iss, error) and
//     returns the authorization code.
//   - TokenEndpoint exchanges the code and refreshes tokens with any RFC 6749 / RFC
//     7523 client authentication method, and parses JSON or form-encoded answers,
//     keeping RFC 6749 section 5.2 error bodies whole.
//   - UserInfoEndpoint fetches the profile, and MapProfile turns it into an
//     sdk.UserInfo through dot paths such as "data.user.id".
//   - HTTPClient bounds every call (deadline, response size), sends a User-Agent,
//     trusts extra CA roots and reuses connections.
//
// Every failure is an *sdk.Error whose code follows Logto's connector error codes and
// whose message and details never contain a client secret, a private key, an
// authorization code or a token.
package oauth2kit
