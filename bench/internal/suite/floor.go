package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"
)

// Floor is the least a Go program can do to complete a sign-in: a
// golang.org/x/oauth2 code exchange (client_secret_post, with a PKCE verifier, as
// the plugin sends) and a GET of the userinfo endpoint, decoded into a struct.
type Floor struct {
	conf        *oauth2.Config
	client      *http.Client
	userInfoURL string
	verifier    string
}

// NewFloor returns the floor client for the stub provider at stubURL.
func NewFloor(stubURL string) *Floor {
	return &Floor{
		conf: &oauth2.Config{
			ClientID:     "bench-client",
			ClientSecret: ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:   stubURL + "/authorize",
				TokenURL:  stubURL + "/token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
			RedirectURL: RedirectURI,
			Scopes:      []string{"openid", "profile", "email"},
		},
		client:      NewHTTPClient(),
		userInfoURL: stubURL + "/userinfo",
		verifier:    oauth2.GenerateVerifier(),
	}
}

// SignIn exchanges code and returns the user's id.
func (f *Floor) SignIn(ctx context.Context, code string) (string, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, f.client)
	tok, err := f.conf.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.userInfoURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("userinfo: HTTP %d", resp.StatusCode)
	}
	var profile struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Avatar string `json:"avatar"`
		Email  string `json:"email"`
		Phone  string `json:"phone"`
	}
	if err := json.Unmarshal(body, &profile); err != nil {
		return "", err
	}
	return profile.ID, nil
}
