// Package slogbridge writes log/slog records through an hclog.Logger. Libraries
// that log with slog's default logger (zitadel/oidc, which serves the OpenID
// Provider, logs every refused request that way) would otherwise print Go's
// plain text lines on stderr, between idplug's JSON lines and past its
// log_level.
package slogbridge

import (
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// New is a slog handler that writes to log, at the nearest hclog level, with a
// group's attributes named group.key.
func New(log hclog.Logger) slog.Handler { return handler{log: log} }

type handler struct {
	log    hclog.Logger
	prefix string // the open groups, "a.b."
	args   []any  // attributes added with WithAttrs, flattened
}

func level(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	default:
		return hclog.Error
	}
}

func (h handler) Enabled(_ context.Context, l slog.Level) bool {
	return level(l) >= h.log.GetLevel()
}

func (h handler) Handle(_ context.Context, r slog.Record) error {
	args := append([]any(nil), h.args...)
	r.Attrs(func(a slog.Attr) bool {
		args = appendAttr(args, h.prefix, a)
		return true
	})
	h.log.Log(level(r.Level), r.Message, args...)
	return nil
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	args := append([]any(nil), h.args...)
	for _, a := range attrs {
		args = appendAttr(args, h.prefix, a)
	}
	return handler{log: h.log, prefix: h.prefix, args: args}
}

func (h handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return handler{log: h.log, prefix: h.prefix + name + ".", args: h.args}
}

// appendAttr flattens a into key/value pairs, a group's members as
// group.member, and resolves LogValuers (what an error type logs of itself).
func appendAttr(args []any, prefix string, a slog.Attr) []any {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, m := range v.Group() {
			args = appendAttr(args, p, m)
		}
		return args
	}
	if a.Key == "" {
		return args
	}
	if hidden[a.Key] {
		return append(args, prefix+a.Key, "[redacted]")
	}
	return append(args, prefix+a.Key, v.Any())
}

// hidden are attributes whose values a library may log but idplug's log must
// not hold: what an app or a browser sent that is theirs (zitadel/oidc logs
// an error redirect with the app's state, in the attribute and in the whole
// URL), and anything secret under a plain name.
var hidden = map[string]bool{
	"state": true, "session_state": true, "url": true, "redirect_uri": true, "post_logout_redirect_uri": true,
	"code": true, "code_verifier": true, "code_challenge": true, "nonce": true, "id_token_hint": true, "login_hint": true,
	"access_token": true, "refresh_token": true, "id_token": true, "token": true,
	"client_secret": true, "client_assertion": true, "password": true, "authorization": true,
}
