// Command roundtrip is a plugin for host/process's conversion test: it answers with
// every field of fixture.json set, and echoes every field of the host's requests
// back, so that a test can see each one cross the wire in both directions.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"strings"

	"github.com/idplug/idplug/sdk"
)

//go:embed fixture.json
var fixtureJSON []byte

type fixture struct {
	Metadata sdk.Metadata `json:"metadata"`
	UserInfo sdk.UserInfo `json:"userInfo"`
	Tokens   sdk.TokenSet `json:"tokens"`
	Error    struct {
		Code    sdk.ErrorCode  `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
	FieldErrors []sdk.FieldError `json:"fieldErrors"`
}

var fx fixture

type connector struct{}

func (connector) Metadata() sdk.Metadata { return fx.Metadata }

func (connector) ParseConfig(raw []byte) (string, error) {
	if strings.Contains(string(raw), `"bad"`) {
		return "", &sdk.ConfigError{Fields: fx.FieldErrors}
	}
	return string(raw), nil
}

func (connector) AuthorizationURI(_ context.Context, cfg string, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	return &sdk.Authorization{RedirectTo: "https://roundtrip.example/authorize?state=" + req.State, Session: sdk.Session{
		"instanceId": req.InstanceID, "redirectUri": req.RedirectURI, "state": req.State, "scope": req.Scope, "config": cfg,
	}}, nil
}

func (connector) UserInfo(_ context.Context, cfg string, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	if req.Callback["fail"] != "" {
		return nil, &sdk.Error{Code: fx.Error.Code, Message: fx.Error.Message, Details: fx.Error.Details}
	}
	u := fx.UserInfo
	u.RawData, _ = json.Marshal(map[string]any{"instanceId": req.InstanceID, "session": req.Session, "callback": req.Callback, "config": cfg})
	tokens := fx.Tokens
	return &sdk.UserInfoResult{UserInfo: u, Tokens: &tokens}, nil
}

func (connector) Refresh(_ context.Context, _ string, refreshToken string) (*sdk.TokenSet, error) {
	tokens := fx.Tokens
	tokens.RefreshToken = refreshToken
	return &tokens, nil
}

func main() {
	if err := json.Unmarshal(fixtureJSON, &fx); err != nil {
		panic(err)
	}
	sdk.Serve(connector{})
}
