// Command slowvet is a connector plugin for the host's tests of a replacement
// checked while a reload runs: its configuration check refuses {"mode": "ok"},
// and, given {"vetdelay": "1s"}, logs "checking a configuration" and takes
// that long, so a test can land a reload while the host checks it.
package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/idplug/idplug/sdk"
)

type config struct {
	Mode     string `json:"mode"`
	VetDelay string `json:"vetdelay"`
}

type connector struct{ id string }

func main() {
	sdk.Serve(connector{id: strings.TrimPrefix(filepath.Base(os.Args[0]), "idplug-connector-")})
}

func (c connector) Metadata() sdk.Metadata {
	return sdk.Metadata{ID: c.id, Target: c.id, Platform: sdk.PlatformUniversal,
		Name: sdk.I18n{"en": "Slow check"}, Description: sdk.I18n{"en": "A plugin whose check takes a while"}, IsStandard: true}
}

func (connector) ParseConfig(raw []byte) (config, error) {
	var cfg config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, err
	}
	if cfg.Mode == "ok" {
		var ce sdk.ConfigError
		ce.Add("mode", "this version no longer takes mode ok")
		return cfg, ce.Err()
	}
	if d, err := time.ParseDuration(cfg.VetDelay); err == nil {
		// A line on stderr as the SDK's logger writes one, at once (a
		// check has no context to log through).
		_, _ = syscall.Write(2, []byte(`{"@level":"warn","@message":"checking a configuration"}`+"\n"))
		time.Sleep(d) // the check's own length, not a wait for anything
	}
	return cfg, nil
}

func (connector) AuthorizationURI(_ context.Context, _ config, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	return &sdk.Authorization{RedirectTo: "https://idp.test/authorize?state=" + req.State}, nil
}

func (connector) UserInfo(context.Context, config, sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	return &sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: "new"}}, nil
}
