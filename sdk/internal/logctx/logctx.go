// Package logctx carries a call's logger in its context. It is the SDK's own, and
// the test kit's, which gives connectors called in process a logger whose lines it
// reads (to check that none carries a secret).
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, key{}, l)
}

// From returns the logger ctx carries, if any.
func From(ctx context.Context) (*slog.Logger, bool) {
	l, ok := ctx.Value(key{}).(*slog.Logger)
	return l, ok
}
