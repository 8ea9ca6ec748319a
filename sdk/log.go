package sdk

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

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

func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return logctx.With(ctx, l)
}

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
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				a.Key = "@message"
			}
			return a
		},
	}))
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
