package connectortest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/internal/logctx"
)

// Value makes a target of a connector value: the checks call its methods directly,
// in the test process, which is fast and shows a panic with its stack. C is inferred
// from the connector:
//
//	connectortest.Run(t, connectortest.Value(connector{}), opts)
//
// The SDK's own guarantees are applied as the plugin would apply them (an
// AuthorizationURI that returns nothing, or a profile without an id, is an error),
// but panics are reported as defects instead of being turned into errors.
func Value[C any](c sdk.Connector[C]) Target {
	return Target{
		desc: fmt.Sprintf("connector %T", c),
		open: func(_ T, o *Options) (driver, error) {
			d := &valueDriver[C]{c: c, timeout: o.callTimeout(), logs: &LogBuffer{}}
			d.logger = slog.New(slog.NewJSONHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			meta, err := guard(context.Background(), d.timeout, "Metadata", func(context.Context) (sdk.Metadata, error) {
				return c.Metadata(), nil
			})
			if err != nil {
				return nil, err
			}
			d.meta = meta
			return d, nil
		},
	}
}

type valueDriver[C any] struct {
	c       sdk.Connector[C]
	meta    sdk.Metadata
	timeout time.Duration

	cfg        C
	configured bool

	// logs keeps what the connector logs through sdk.Logger, at every level.
	logs   *LogBuffer
	logger *slog.Logger
}

func (d *valueDriver[C]) metadata() sdk.Metadata  { return d.meta }
func (d *valueDriver[C]) deaths() int             { return 0 }
func (d *valueDriver[C]) inProcess() bool         { return true }
func (d *valueDriver[C]) log() string             { return d.logs.String() }
func (d *valueDriver[C]) logMark() int64          { return d.logs.Mark() }
func (d *valueDriver[C]) logSince(m int64) string { return d.logs.Since(m) }
func (d *valueDriver[C]) withLog(ctx context.Context) context.Context {
	return logctx.With(ctx, d.logger)
}

func (d *valueDriver[C]) parse(ctx context.Context, raw []byte) (C, error) {
	return guard(ctx, d.timeout, "ParseConfig", func(context.Context) (C, error) {
		return d.c.ParseConfig(append([]byte(nil), raw...))
	})
}

func (d *valueDriver[C]) parseConfig(ctx context.Context, raw []byte) error {
	_, err := d.parse(ctx, raw)
	var ce *sdk.ConfigError
	if err == nil || defect(err) || errors.As(err, &ce) {
		return err
	}
	return sdk.AsError(err)
}

func (d *valueDriver[C]) configure(ctx context.Context, raw []byte) error {
	cfg, err := d.parse(ctx, raw)
	if err != nil {
		return err
	}
	d.cfg, d.configured = cfg, true
	return nil
}

func (d *valueDriver[C]) config() (C, error) {
	if !d.configured {
		var zero C
		return zero, errors.New("connectortest: no configuration was accepted")
	}
	return d.cfg, nil
}

func (d *valueDriver[C]) authorizationURI(ctx context.Context, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	cfg, err := d.config()
	if err != nil {
		return nil, err
	}
	auth, err := guard(ctx, d.timeout, "AuthorizationURI", func(ctx context.Context) (*sdk.Authorization, error) {
		return d.c.AuthorizationURI(d.withLog(ctx), cfg, req)
	})
	if err == nil && auth == nil {
		err = sdk.Errorf(sdk.CodeGeneral, "connector returned no authorization")
	}
	if err != nil {
		return nil, asWireError(err)
	}
	return auth, nil
}

func (d *valueDriver[C]) userInfo(ctx context.Context, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	cfg, err := d.config()
	if err != nil {
		return nil, err
	}
	res, err := guard(ctx, d.timeout, "UserInfo", func(ctx context.Context) (*sdk.UserInfoResult, error) {
		return d.c.UserInfo(d.withLog(ctx), cfg, req)
	})
	if err == nil && (res == nil || res.UserInfo.ID == "") {
		err = sdk.Errorf(sdk.CodeInvalidResponse, "connector returned a profile without an id")
	}
	if err != nil {
		return nil, asWireError(err)
	}
	return res, nil
}

func (d *valueDriver[C]) refresh(ctx context.Context, refreshToken string) (*sdk.TokenSet, error) {
	r, ok := d.c.(sdk.Refresher[C])
	if !ok {
		return nil, sdk.Errorf(sdk.CodeNotImplemented, "connector %q cannot refresh tokens", d.meta.ID)
	}
	cfg, err := d.config()
	if err != nil {
		return nil, err
	}
	tokens, err := guard(ctx, d.timeout, "Refresh", func(ctx context.Context) (*sdk.TokenSet, error) {
		return r.Refresh(d.withLog(ctx), cfg, refreshToken)
	})
	if err == nil && tokens == nil {
		err = sdk.Errorf(sdk.CodeInvalidResponse, "connector returned no tokens")
	}
	if err != nil {
		return nil, asWireError(err)
	}
	return tokens, nil
}

// guard runs one connector method with a deadline, turning a panic into a
// *panicError and a call that ignores its deadline into a *hungError. A hung call's
// goroutine is left behind: nothing can stop it.
func guard[R any](ctx context.Context, timeout time.Duration, method string, f func(context.Context) (R, error)) (R, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		r   R
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- result{err: &panicError{method: method, value: fmt.Sprint(v), stack: string(debug.Stack())}}
			}
		}()
		r, err := f(ctx)
		done <- result{r, err}
	}()
	// Past the deadline, give the call a moment to notice it and return its error.
	grace := time.NewTimer(timeout + time.Second)
	defer grace.Stop()
	select {
	case res := <-done:
		return res.r, res.err
	case <-grace.C:
		var zero R
		return zero, &hungError{method: method, after: timeout}
	}
}
