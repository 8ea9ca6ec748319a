// Command apicaller is a connector plugin that calls the host's own /v1 API, for
// the tests that a plugin on the same machine cannot use it: its authorization
// call sends each request of the config's list to the host and returns what came
// back, one entry per request, in the redirect URL's "r" parameter (a status code,
// or "error: ..." when the connection itself failed).
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
)

type request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Key    string `json:"key"` // a guessed API key; none when empty
}

type config struct {
	API      string    `json:"api"` // http://host:port of the host's listener
	Requests []request `json:"requests"`
}

type connector struct{}

func (connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		ID: "apicaller", Target: "apicaller", Platform: sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "API caller"},
		Description: sdk.I18n{"en": "Calls the host's API."},
		IsStandard:  true,
	}
}

func (connector) ParseConfig(raw []byte) (*config, error) {
	cfg := &config{}
	var problems sdk.ConfigError
	if err := sdk.DecodeConfig(raw, cfg, &problems); err != nil {
		return nil, err
	}
	return cfg, problems.Err()
}

func (connector) AuthorizationURI(ctx context.Context, cfg *config, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	// Through the host's egress proxy, as a plugin's requests go (the sandbox
	// leaves no other way out): its configuration names the address.
	client := &http.Client{Timeout: 5 * time.Second, Transport: sdk.NewTransport()}
	results := make([]string, len(cfg.Requests))
	for i, r := range cfg.Requests {
		hr, err := http.NewRequestWithContext(ctx, r.Method, cfg.API+r.Path, strings.NewReader("{}"))
		if err != nil {
			results[i] = "error: " + err.Error()
			continue
		}
		if r.Key != "" {
			hr.Header.Set("Authorization", "Bearer "+r.Key)
		}
		resp, err := client.Do(hr)
		if err != nil {
			results[i] = "error: " + err.Error()
			continue
		}
		resp.Body.Close()
		results[i] = strconv.Itoa(resp.StatusCode)
	}
	out, _ := json.Marshal(results)
	return &sdk.Authorization{RedirectTo: "https://result.test/?r=" + url.QueryEscape(string(out)), Session: sdk.Session{"state": req.State}}, nil
}

func (connector) UserInfo(context.Context, *config, sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	return nil, sdk.Errorf(sdk.CodeNotImplemented, "apicaller only calls the API")
}

func main() { sdk.Serve(connector{}) }
