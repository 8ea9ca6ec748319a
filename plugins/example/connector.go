package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/url"

	"github.com/idplug/idplug/sdk"
)

// config is one instance's configuration.
type config struct {
	AuthorizationEndpoint string `json:"authorizationEndpoint"`
	ClientID              string `json:"clientId"`
	// Greeting is put in front of the user's name, to tell instances apart.
	Greeting string `json:"greeting"`
}

type connector struct{}

func (connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		ID:          "example",
		Target:      "example",
		Platform:    sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "Example ID"},
		Description: sdk.I18n{"en": "Sign in with Example ID, a fictional provider used to show how connectors are written."},
		Logo:        "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAxNiAxNiI+PGNpcmNsZSBjeD0iOCIgY3k9IjgiIHI9IjgiIGZpbGw9IiM1YjViZDYiLz48L3N2Zz4=",
		Readme:      "# Example ID\n\nSet `authorizationEndpoint` and `clientId`. The provider's code is the user's id.\n",
		IsStandard:  true,
		FormItems: []sdk.FormItem{
			{Key: "authorizationEndpoint", Label: "Authorization endpoint", Type: sdk.FormText, Required: true, Placeholder: "https://id.example.com/authorize"},
			{Key: "clientId", Label: "Client ID", Type: sdk.FormText, Required: true},
			{Key: "greeting", Label: "Greeting", Type: sdk.FormText, DefaultValue: "Hello"},
		},
	}
}

func (connector) ParseConfig(raw []byte) (*config, error) {
	cfg := &config{Greeting: "Hello"}
	var problems sdk.ConfigError
	// DecodeConfig names every unknown key and wrongly typed value, not just the first.
	if err := sdk.DecodeConfig(raw, cfg, &problems); err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.AuthorizationEndpoint); err != nil || u.Scheme == "" || u.Host == "" {
		problems.Add("authorizationEndpoint", "must be an absolute URL, got %q", cfg.AuthorizationEndpoint)
	}
	if cfg.ClientID == "" {
		problems.Add("clientId", "is required")
	}
	return cfg, problems.Err()
}

func (connector) AuthorizationURI(_ context.Context, cfg *config, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	u, _ := url.Parse(cfg.AuthorizationEndpoint) // checked by ParseConfig
	q := u.Query()
	q.Set("client_id", cfg.ClientID)
	q.Set("redirect_uri", req.RedirectURI)
	q.Set("state", req.State)
	u.RawQuery = q.Encode()
	return &sdk.Authorization{RedirectTo: u.String(), Session: sdk.Session{"state": req.State}}, nil
}

func (connector) UserInfo(ctx context.Context, cfg *config, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	if e := req.Callback["error"]; e != "" {
		return nil, sdk.Errorf(sdk.CodeAuthorizationFailed, "the provider refused: %s", e).WithDetail("error", e)
	}
	// An empty state on both sides would compare equal: a session always has one.
	state := req.Session["state"]
	if state == "" || subtle.ConstantTimeCompare([]byte(req.Callback["state"]), []byte(state)) != 1 {
		return nil, sdk.Errorf(sdk.CodeInvalidRequestParameters, "state does not match the session")
	}
	id := req.Callback["code"]
	if id == "" {
		return nil, sdk.Errorf(sdk.CodeInsufficientRequestParameters, "the callback has no code")
	}
	sdk.Logger(ctx).Info("signed in") // never the code, which is the id here
	raw, _ := json.Marshal(map[string]string{"sub": id})
	return &sdk.UserInfoResult{UserInfo: sdk.UserInfo{
		ID:      id,
		Name:    sdk.String(cfg.Greeting + ", " + id),
		RawData: raw,
	}}, nil
}
