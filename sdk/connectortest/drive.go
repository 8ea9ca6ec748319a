package connectortest

import (
	"context"
	"time"

	"github.com/idplug/idplug/sdk"
)

// Driver reaches a connector that runs outside the test's process. A package that
// runs plugins implements it (host/hosttest runs a plugin binary through the
// host, as idplug serve does), and Drive makes a Target of it, so the kit itself
// never depends on the host.
//
// Every error is what the host would see: nil, an *sdk.ConfigError (ParseConfig
// only), an *sdk.Error, or one made by Panicked, Hung or Died, which the checks
// report as defects.
type Driver interface {
	Metadata() sdk.Metadata
	// ParseConfig asks the connector whether raw is a valid configuration.
	ParseConfig(ctx context.Context, raw []byte) error
	// Configure makes raw the configuration of the calls below.
	Configure(ctx context.Context, raw []byte) error
	AuthorizationURI(ctx context.Context, req sdk.AuthorizationRequest) (*sdk.Authorization, error)
	UserInfo(ctx context.Context, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error)
	Refresh(ctx context.Context, refreshToken string) (*sdk.TokenSet, error)
	// Deaths counts how many times the connector's process died.
	Deaths() int
	// Log is what the connector (and whatever runs it) logged, for failure
	// reports; LogSince is what was logged after LogMark returned mark.
	Log() string
	LogMark() int64
	LogSince(mark int64) string
}

// Drive makes a Target of a connector that open starts. The kit calls open once
// per Run, with the bound every call must keep (Options.CallTimeout); what open
// starts, it stops with t.Cleanup.
func Drive(desc string, open func(t T, callTimeout time.Duration) (Driver, error)) Target {
	return Target{
		desc: desc,
		open: func(t T, o *Options) (driver, error) {
			t.Helper()
			d, err := open(t, o.callTimeout())
			if err != nil {
				return nil, err
			}
			return driven{d}, nil
		},
	}
}

// Panicked is a panic in connector code, as the SDK reports it across the wire.
func Panicked(method, value string) error { return &panicError{method: method, value: value} }

// Hung is a call that did not return within after.
func Hung(method string, after time.Duration) error { return &hungError{method: method, after: after} }

// Died is a call during which the connector's process died.
func Died(method string, cause error) error { return &diedError{method: method, cause: cause} }

// driven adapts a Driver to the checks' own interface.
type driven struct{ d Driver }

func (x driven) metadata() sdk.Metadata { return x.d.Metadata() }
func (x driven) parseConfig(ctx context.Context, raw []byte) error {
	return x.d.ParseConfig(ctx, raw)
}
func (x driven) configure(ctx context.Context, raw []byte) error { return x.d.Configure(ctx, raw) }
func (x driven) authorizationURI(ctx context.Context, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	return x.d.AuthorizationURI(ctx, req)
}
func (x driven) userInfo(ctx context.Context, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	return x.d.UserInfo(ctx, req)
}
func (x driven) refresh(ctx context.Context, refreshToken string) (*sdk.TokenSet, error) {
	return x.d.Refresh(ctx, refreshToken)
}
func (x driven) deaths() int                { return x.d.Deaths() }
func (x driven) inProcess() bool            { return false }
func (x driven) log() string                { return x.d.Log() }
func (x driven) logMark() int64             { return x.d.LogMark() }
func (x driven) logSince(mark int64) string { return x.d.LogSince(mark) }
