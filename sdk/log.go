package sdk

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk/internal/logctx"
)

// Logger returns the logger for the call ctx belongs to. Its lines reach the host's log,
// tagged with the plugin and the instance. Never log secrets, codes or tokens.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := logctx.From(ctx); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// PluginLogger returns the plugin's own logger, for work outside any call (a
// background goroutine, a child process's output): its lines reach the host's
// log tagged with the plugin, not an instance. Before Serve, it discards.
// Never log secrets, codes or tokens.
func PluginLogger() *slog.Logger {
	if l := pluginLogger.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

var pluginLogger atomic.Pointer[slog.Logger]

func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return logctx.With(ctx, l)
}

// wireTimeFormat is the only @timestamp layout go-plugin's host side parses
// (hclog's, with exactly six fractional digits); a line it cannot parse loses its
// level and arrives at debug.
const wireTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// newPluginLogger writes JSON lines in the shape the host's go-plugin client parses
// (@level, @message, @timestamp), so plugin log lines come out of the host's log with
// their level and attributes intact.
func newPluginLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "@timestamp"
				if t, ok := a.Value.Any().(time.Time); ok {
					a.Value = slog.StringValue(t.Format(wireTimeFormat))
				}
			case slog.LevelKey:
				a.Key = "@level"
				if l, ok := a.Value.Any().(slog.Level); ok {
					a.Value = slog.StringValue(wireLevel(l))
				}
			case slog.MessageKey:
				a.Key = "@message"
			}
			return a
		},
	}))
}

// wireLevel names l as hclog does; levels between slog's named ones (Info+2) take
// the name below them, so no line is left without a level the host knows.
func wireLevel(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warn"
	case l >= slog.LevelInfo:
		return "info"
	case l >= slog.LevelDebug:
		return "debug"
	default:
		return "trace"
	}
}

// levelFromEnv reads the level the host passes in wire.EnvLogLevel.
func levelFromEnv() slog.Level {
	switch strings.ToLower(os.Getenv(wire.EnvLogLevel)) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}
