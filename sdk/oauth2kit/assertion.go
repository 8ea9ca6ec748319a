package oauth2kit

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idplug/idplug/sdk"
)

// AssertionLifetime is how long a client assertion is valid. It is short because an
// assertion is sent once, right after it is made (RFC 7523 section 3: "the
// authorization server MAY reject JWTs with an exp claim value that is unreasonably
// far in the future").
const AssertionLifetime = 5 * time.Minute

// hmacAlgorithms maps each client_secret_jwt algorithm to the shortest secret it may
// use: RFC 7518 section 3.2 wants a key at least as long as the hash output.
var hmacAlgorithms = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// IsHMACAlgorithm reports whether alg is HS256, HS384 or HS512.
func IsHMACAlgorithm(alg string) bool {
	_, ok := hmacAlgorithms[alg]
	return ok
}

// CheckHMACSecret says whether secret is long enough to sign with alg. The error
// gives the lengths, never the secret.
func CheckHMACSecret(alg, secret string) error {
	min, ok := hmacAlgorithms[alg]
	if !ok {
		return fmt.Errorf("%q is not HS256, HS384 or HS512", alg)
	}
	if len(secret) < min {
		return fmt.Errorf("%s needs a secret of at least %d bytes (RFC 7518 section 3.2); this one has %d", alg, min, len(secret))
	}
	return nil
}

// assertionClaims are the claims RFC 7523 section 3 and OpenID Connect Core section
// 9 ask for.
func assertionClaims(clientID, aud string, now time.Time) jwt.Claims {
	return jwt.Claims{
		Issuer:   clientID,
		Subject:  clientID,
		Audience: jwt.Audience{aud},
		ID:       rand.Text(),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(AssertionLifetime)),
	}
}

// signAssertion makes the client_assertion JWT for aud.
func (a ClientAuth) signAssertion(aud string, now time.Time) (string, error) {
	key, err := a.signingKey()
	if err != nil {
		return "", err
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if a.KeyID != "" && a.Method == PrivateKeyJWT {
		opts = opts.WithHeader("kid", a.KeyID)
	}
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		return "", sdk.Errorf(sdk.CodeInvalidConfig, "cannot sign the client assertion with %s: %v", key.Algorithm, err)
	}
	token, err := jwt.Signed(signer).Claims(assertionClaims(a.ClientID, aud, now)).Serialize()
	if err != nil {
		return "", sdk.Errorf(sdk.CodeInvalidConfig, "cannot sign the client assertion with %s: %v", key.Algorithm, err)
	}
	return token, nil
}

// signingKey picks the key and algorithm for the method.
func (a ClientAuth) signingKey() (jose.SigningKey, error) {
	if a.Method == ClientSecretJWT {
		alg := a.SigningAlgorithm
		if alg == "" {
			alg = "HS256"
		}
		if err := CheckHMACSecret(alg, a.ClientSecret); err != nil {
			return jose.SigningKey{}, sdk.Errorf(sdk.CodeInvalidConfig, "client_secret_jwt: %v", err)
		}
		return jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: []byte(a.ClientSecret)}, nil
	}
	if a.PrivateKey == nil {
		return jose.SigningKey{}, sdk.Errorf(sdk.CodeInvalidConfig, "private_key_jwt needs a private key")
	}
	alg, err := KeySigningAlgorithm(a.PrivateKey, a.SigningAlgorithm)
	if err != nil {
		return jose.SigningKey{}, sdk.Errorf(sdk.CodeInvalidConfig, "private_key_jwt: %v", err)
	}
	return jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: a.PrivateKey}, nil
}
