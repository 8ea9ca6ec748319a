package oauth2kit

import "golang.org/x/oauth2"

// PKCEMethodS256 is the only PKCE method this package sends (RFC 7636 section 4.2;
// "plain" gives no protection against a leaked authorization request).
const PKCEMethodS256 = "S256"

// PKCE is one flow's proof key: the challenge goes into the authorization URL, the
// verifier is kept in the session and sent with the code exchange.
type PKCE struct {
	Verifier  string
	Challenge string
}

// NewPKCE returns a fresh random verifier (32 bytes of entropy) and its S256 challenge.
func NewPKCE() PKCE {
	v := oauth2.GenerateVerifier()
	return PKCE{Verifier: v, Challenge: oauth2.S256ChallengeFromVerifier(v)}
}
