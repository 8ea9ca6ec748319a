package stub

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The OpenID Connect side of the stub, under /oidc: discovery, a JWK set with one
// RS256 key (what Google and Microsoft sign with), and a token endpoint whose ID token
// carries the authorization code as its nonce, so a benchmark that picks the code
// gets a token for its own sign-in. Tokens are signed once per code and cached: the
// stub's own cost stays out of the client's.

const (
	// OIDCPath is where the issuer lives on the stub: issuer = stub URL + OIDCPath.
	OIDCPath = "/oidc"
	// OIDCClientID is the audience of the ID tokens.
	OIDCClientID = "bench-oidc-client"
	oidcKeyID    = "bench-key-1"
)

type oidcProvider struct {
	once   sync.Once
	key    *rsa.PrivateKey
	signer jose.Signer

	mu     sync.Mutex
	tokens map[string][]byte // token answer by issuer and code
}

func (o *oidcProvider) init() {
	o.once.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", oidcKeyID))
		if err != nil {
			panic(err)
		}
		o.key, o.signer, o.tokens = key, signer, map[string][]byte{}
	})
}

func (o *oidcProvider) routes(mux *http.ServeMux, p *Provider) {
	mux.HandleFunc("GET "+OIDCPath+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := issuer(r)
		writeJSONAnswer(w, map[string]any{
			"issuer": iss, "authorization_endpoint": iss + "/auth", "token_endpoint": iss + "/token",
			"jwks_uri": iss + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("GET "+OIDCPath+"/jwks", func(w http.ResponseWriter, r *http.Request) {
		o.init()
		w.Header().Set("Cache-Control", "max-age=3600")
		writeJSONAnswer(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: o.key.Public(), KeyID: oidcKeyID, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST "+OIDCPath+"/token", func(w http.ResponseWriter, r *http.Request) {
		code := r.PostFormValue("code")
		if r.PostFormValue("grant_type") != "authorization_code" || code == "" {
			p.refused.Add(1)
			w.Header()["Content-Type"] = jsonType
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		p.tokens.Add(1)
		body, err := o.tokenAnswer(issuer(r), code)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h["Content-Type"] = jsonType
		h["Cache-Control"] = noCache
		_, _ = w.Write(body)
	})
}

func (o *oidcProvider) tokenAnswer(iss, code string) ([]byte, error) {
	o.init()
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.tokens[iss+" "+code]; ok {
		return b, nil
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": iss, "sub": UserID, "aud": OIDCClientID, "nonce": code,
		"iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		"name": "Ann Example", "picture": "https://example.com/ann.png",
		"email": "ann@example.com", "email_verified": true,
	})
	jws, err := o.signer.Sign(claims)
	if err != nil {
		return nil, err
	}
	idToken, err := jws.CompactSerialize()
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(map[string]any{
		"access_token": "bench-access-token", "token_type": "Bearer", "expires_in": 3600,
		"scope": "openid profile email", "id_token": idToken,
	})
	if len(o.tokens) > 1024 { // a bounded cache: benchmarks use a handful of codes
		clear(o.tokens)
	}
	o.tokens[iss+" "+code] = b
	return b, nil
}

func issuer(r *http.Request) string { return "http://" + r.Host + OIDCPath }

func writeJSONAnswer(w http.ResponseWriter, v any) {
	w.Header()["Content-Type"] = jsonType
	_ = json.NewEncoder(w).Encode(v)
}
