package connectortest

// ProviderOption changes how NewProvider sets up the fake provider.
type ProviderOption func(*providerSettings)

type providerSettings struct {
	authorizePath, tokenPath, userInfoPath string
	clientID, clientSecret                 string
	format                                 TokenFormat
	errorStatus                            int
	scope                                  *string
	refreshTokens                          bool
	profile                                string
	addr                                   string
	clientAuth                             ClientAuthMethod
	verifiedResource, verifiedField        string
	// verifiedAt: the field holds when the email was verified, null until then.
	verifiedAt bool
	// idTokens: the provider is an OpenID Provider too (WithIDTokens).
	idTokens bool
}

// unverifiedValue is what ServeUnverifiedEmail puts in the verification field.
func (s *providerSettings) unverifiedValue() any {
	if s.verifiedAt {
		return nil
	}
	return false
}

// WithPaths sets the paths of the authorization, token and userinfo endpoints
// (default /authorize, /token and /userinfo), to match a provider's real layout.
func WithPaths(authorize, token, userInfo string) ProviderOption {
	return func(s *providerSettings) { s.authorizePath, s.tokenPath, s.userInfoPath = authorize, token, userInfo }
}

// WithClient sets the client the provider knows (default "connectortest-client" with
// a random secret starting "connectortest-secret-", recognizable wherever it leaks).
// An empty secret makes it a public client, which
// authenticates with its client_id alone.
func WithClient(id, secret string) ProviderOption {
	return func(s *providerSettings) { s.clientID, s.clientSecret = id, secret }
}

// WithTokenFormat sets how the token endpoint encodes its answers (default TokenJSON).
func WithTokenFormat(f TokenFormat) ProviderOption {
	return func(s *providerSettings) { s.format = f }
}

// WithTokenErrorStatus sets the HTTP status of the token endpoint's OAuth errors
// (default 400; GitHub answers 200 with an error field). invalid_client is always 401.
func WithTokenErrorStatus(status int) ProviderOption {
	return func(s *providerSettings) { s.errorStatus = status }
}

// WithGrantedScope sets the scope token answers report (default: the scope the
// authorization request asked for).
func WithGrantedScope(scope string) ProviderOption {
	return func(s *providerSettings) { s.scope = &scope }
}

// WithoutRefreshTokens makes the token endpoint issue access tokens only.
func WithoutRefreshTokens() ProviderOption {
	return func(s *providerSettings) { s.refreshTokens = false }
}

// WithProfile sets the userinfo answer (default DefaultProfile); see also SetProfile.
func WithProfile(profileJSON string) ProviderOption {
	return func(s *providerSettings) { s.profile = profileJSON }
}

// WithClientAuth makes the token endpoint accept only method (client_secret_basic,
// client_secret_post, or none for a public client, which also needs
// WithClient(id, "") so that no secret is expected), as a provider that registers
// each client with one token_endpoint_auth_method does: every other method is
// refused with invalid_client. By default both methods that send the secret are
// accepted, and signin/client-auth checks that the connector uses the one its
// configuration names.
func WithClientAuth(method ClientAuthMethod) ProviderOption {
	return func(s *providerSettings) { s.clientAuth = method }
}

// WithEmailVerifiedField names the field of the userinfo answer that says whether
// the email is verified (default DefaultEmailVerifiedField), as a path such as
// "data.email_verified" or "emails[0].verified"; ServeUnverifiedEmail sets it to
// false.
func WithEmailVerifiedField(path string) ProviderOption {
	return func(s *providerSettings) { s.verifiedResource, s.verifiedField, s.verifiedAt = "", path, false }
}

// WithEmailVerifiedAtField is WithEmailVerifiedField for a provider that says
// when it verified the email, and null until it has, such as GitLab's
// confirmed_at (oauth2kit.ProfileMap.EmailVerifiedAt): ServeUnverifiedEmail
// sets the field to null.
func WithEmailVerifiedAtField(path string) ProviderOption {
	return func(s *providerSettings) { s.verifiedResource, s.verifiedField, s.verifiedAt = "", path, true }
}

// WithEmailVerifiedFieldIn is WithEmailVerifiedField for a provider whose email is
// in another resource (set with SetResource), such as GitHub's /user/emails:
// WithEmailVerifiedFieldIn("/user/emails", "[0].verified").
func WithEmailVerifiedFieldIn(resourcePath, path string) ProviderOption {
	return func(s *providerSettings) {
		s.verifiedResource, s.verifiedField, s.verifiedAt = resourcePath, path, false
	}
}

// WithAddr sets the address the provider listens on (default 127.0.0.1 on a free
// port), for a provider that keeps its URL from one run to the next. Give a
// loopback address: the provider approves every request.
func WithAddr(addr string) ProviderOption {
	return func(s *providerSettings) { s.addr = addr }
}
