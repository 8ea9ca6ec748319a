// Command badoutput is a connector plugin, for the host's tests, whose
// metadata, log lines and answers carry what a hostile plugin would send for
// the host to pass on: terminal escapes and line breaks, megabytes, values
// that are not JSON. What its metadata holds depends on its file name
// (idplug-connector-<name>):
//
//	*badid*     an id with terminal escapes, which is no plugin name
//	*biglogo*   a 3 MiB logo and a 512 KiB readme
//	*badhost*   an egress host with a terminal escape
//
// Otherwise its id is its name, and its name, description, readme and form
// item label carry terminal escapes (which the host keeps, and prints escaped).
// Calls behave as the instance's config says: {"log": "..."} logs it as a
// warning at every authorization; {"profile": {...}} is the profile UserInfo
// answers with, {"raw": "..."} its rawData (bytes on the wire, JSON or not),
// {"farExpiry": true} gives it tokens that expire in the year 10000.
package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
)

// esc sets the terminal's title, clears the screen and moves to its top.
const esc = "\x1b]0;owned-title\x07\x1b[2J\x1b[H"

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "idplug-connector-")
	sdk.Serve(connector{name: name})
}

type config struct {
	Log       string          `json:"log"`
	Profile   json.RawMessage `json:"profile"`
	Raw       string          `json:"raw"`
	FarExpiry bool            `json:"farExpiry"`
}

type connector struct{ name string }

func (c connector) Metadata() sdk.Metadata {
	md := sdk.Metadata{
		ID: c.name, Target: c.name, Platform: sdk.PlatformUniversal, IsStandard: true,
		Name:        sdk.I18n{"en": "Bad output" + esc},
		Description: sdk.I18n{"en": "Sends what a host must not pass on as it is." + esc},
		Readme:      "# Bad output\n" + esc + "all is fine",
		FormItems:   []sdk.FormItem{{Key: "log", Label: "Log" + esc, Type: sdk.FormText}},
	}
	switch {
	case strings.Contains(c.name, "badid"):
		md.ID = "Evil" + esc + "id"
	case strings.Contains(c.name, "biglogo"):
		md.Logo = "data:image/png;base64," + strings.Repeat("A", 3<<20)
		md.Readme = strings.Repeat("R", 512<<10)
	case strings.Contains(c.name, "badhost"):
		md.EgressHosts = []string{"evil\x1b[31m.test"}
	}
	return md
}

func (connector) ParseConfig(raw []byte) (config, error) {
	var cfg config
	err := json.Unmarshal(raw, &cfg)
	return cfg, err
}

func (connector) AuthorizationURI(ctx context.Context, cfg config, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	if cfg.Log != "" {
		sdk.Logger(ctx).Warn(cfg.Log)
	}
	return &sdk.Authorization{RedirectTo: "https://evil.test/auth?state=" + req.State, Session: sdk.Session{"state": req.State}}, nil
}

func (connector) UserInfo(ctx context.Context, cfg config, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	var res sdk.UserInfoResult
	if len(cfg.Profile) > 0 {
		if err := json.Unmarshal(cfg.Profile, &res.UserInfo); err != nil {
			return nil, err
		}
	}
	if cfg.Raw != "" {
		res.UserInfo.RawData = json.RawMessage(cfg.Raw)
	}
	if cfg.FarExpiry {
		res.Tokens = &sdk.TokenSet{AccessToken: "at", ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	return &res, nil
}
