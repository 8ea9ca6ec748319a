// Command escapes is a connector plugin whose metadata and configuration
// problems carry terminal control sequences and line breaks, as a hostile or
// careless plugin may send them: `idplug plugins` prints its metadata, and
// `idplug validate` its problems, to the operator's terminal. Under a file
// name with "badid" in it (idplug-connector-<name>), its metadata id carries
// them too, and the host refuses it.
package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// osc52 writes "pwned" to the terminal's clipboard (xterm, iTerm2, kitty,
// tmux, Windows Terminal); clear clears the screen; forge starts a line that
// reads as the listing's own.
const (
	osc52 = "\x1b]52;c;cHduZWQ=\x07"
	clear = "\x1b[2J\x1b[H"
	forge = "\nRefused:\n  idplug-connector-github: checksum does not match SHA256SUMS"
	// c1 is the one-character CSI (a terminal in UTF-8 mode may act on it) and
	// a right-to-left override; encoding/json writes both as they are.
	c1 = "\u009b2J\u202e"
)

type config struct{}

type connector struct{ id string }

func (c connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		ID: c.id, Target: "escapes", Platform: sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "Escapes" + clear},
		Description: sdk.I18n{"en": "Sends control sequences." + forge, "fr": "Envoie" + c1},
		Readme:      "# Escapes\n\n" + osc52 + clear + "\r\tindented\n",
		FormItems:   []sdk.FormItem{{Key: "k", Label: "Label" + osc52 + "\tcolumn", Type: sdk.FormText}},
		IsStandard:  true,
	}
}

// ParseConfig refuses every configuration, with control sequences and line
// breaks in the problems' fields and texts: idplug validate prints them.
func (connector) ParseConfig([]byte) (*config, error) {
	var p sdk.ConfigError
	p.Add("k", "is wrong"+osc52+clear)
	p.Add("k"+clear, "is wrong too"+forge)
	return nil, p.Err()
}

func (connector) AuthorizationURI(context.Context, *config, sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	return nil, sdk.Errorf(sdk.CodeNotImplemented, "no")
}

func (connector) UserInfo(context.Context, *config, sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	return nil, sdk.Errorf(sdk.CodeNotImplemented, "no")
}

func main() {
	id := strings.TrimPrefix(filepath.Base(os.Args[0]), "idplug-connector-")
	if strings.Contains(id, "badid") {
		id = "escapes" + osc52
	}
	sdk.Serve(connector{id: id})
}
