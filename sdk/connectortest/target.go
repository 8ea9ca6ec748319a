package connectortest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk"
)

// Target is the connector under test: a connector value (Value) or a plugin binary
// that the kit runs through the host (Binary).
type Target struct {
	desc string
	open func(t T, o *Options) (driver, error)
}

// String describes the target in messages.
func (tg Target) String() string { return tg.desc }

// driver is how the checks reach a connector, in process or over the wire. Every
// error is what the host would see: nil, an *sdk.ConfigError (parseConfig only), an
// *sdk.Error, or one of the failures below, which the checks report as defects.
type driver interface {
	metadata() sdk.Metadata
	// parseConfig asks the connector whether raw is a valid configuration.
	parseConfig(ctx context.Context, raw []byte) error
	// configure makes raw the configuration of the calls below.
	configure(ctx context.Context, raw []byte) error
	authorizationURI(ctx context.Context, req sdk.AuthorizationRequest) (*sdk.Authorization, error)
	userInfo(ctx context.Context, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error)
	refresh(ctx context.Context, refreshToken string) (*sdk.TokenSet, error)
	// deaths counts how many times the connector's process died (always 0 in process).
	deaths() int
	// inProcess says the connector runs in the test's process, whose standard
	// output and error the kit can read.
	inProcess() bool
	// log is what the connector (and, for a binary, the host) logged, for failure
	// reports; logSince is what was logged after logMark returned mark.
	log() string
	logMark() int64
	logSince(mark int64) string
}

// panicError is a panic in connector code, caught in process or reported by the
// SDK across the wire.
type panicError struct {
	method string
	value  string
	// stack is where it panicked, when the panic happened in this process.
	stack string
}

func (e *panicError) Error() string { return fmt.Sprintf("%s panicked: %s", e.method, e.value) }

// hungError is a call that did not return in time.
type hungError struct {
	method string
	after  time.Duration
}

func (e *hungError) Error() string {
	return fmt.Sprintf("%s did not return within %s (does it honor its context?)", e.method, e.after)
}

// diedError is a call during which the plugin process died.
type diedError struct {
	method string
	cause  error
}

func (e *diedError) Error() string {
	return fmt.Sprintf("the plugin process died during %s (%v)", e.method, e.cause)
}

// defect reports whether err is a panic, a hang or a crash rather than an answer.
func defect(err error) bool {
	var (
		p *panicError
		h *hungError
		d *diedError
	)
	return errors.As(err, &p) || errors.As(err, &h) || errors.As(err, &d)
}

// asWireError gives the error of a call the shape the SDK gives it on the way to the
// host: an *sdk.Error (a *sdk.ConfigError becomes invalid_config), and
// provider_timeout for an unclassified deadline.
func asWireError(err error) error {
	if err == nil || defect(err) {
		return err
	}
	e := sdk.AsError(err)
	if e.Code == sdk.CodeGeneral && errors.Is(err, context.DeadlineExceeded) {
		return &sdk.Error{Code: sdk.CodeProviderTimeout, Message: e.Message, Details: e.Details, Cause: err}
	}
	return e
}

// InstanceID names the instance the kit configures; a Driver configures its
// connector under it.
const InstanceID = "connectortest"

var (
	nameRE       = wire.PluginNameRE
	pluginPrefix = wire.PluginFilePrefix
)
