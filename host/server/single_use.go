package server

import (
	"context"
	"errors"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// Single-use flows: every sealed flow carries a random id, and finishing it
// records the id in the store first, so that a flow replayed, on this process or
// any replica sharing the database, is refused before the plugin is called and
// before a code is sent to the provider a second time.

// sealFlow stamps f with a fresh id and its expiry and seals it.
func (s *Server) sealFlow(purpose string, f flow) (string, error) {
	f.ID = newState()
	f.Expires = time.Now().Add(s.settings.FlowTTL).Unix()
	return s.sealJSON(purpose, f, s.settings.FlowTTL)
}

// finishFlow opens a sealed flow and consumes it. Without a store (stateless
// mode) a flow is only bounded by its expiry.
func (s *Server) finishFlow(ctx context.Context, purpose, token, what string) (flow, error) {
	var f flow
	if err := s.openJSON(purpose, token, what, &f); err != nil {
		return f, err
	}
	if s.settings.Store == nil {
		return f, nil
	}
	if f.ID == "" {
		return f, &sdk.Error{Code: CodeSessionInvalid, Message: what + " was sealed without an id for single use; start the sign-in again"}
	}
	err := s.settings.Store.ConsumeFlow(ctx, f.ID, time.Unix(f.Expires, 0))
	if err != nil {
		return f, storeError(err, what+" was used already: a sign-in can be finished once; start again")
	}
	return f, nil
}

// storeError turns a store failure into the error a client sees: used for
// ErrUsed, store_unavailable for a database that does not answer.
func storeError(err error, usedMessage string) error {
	switch {
	case errors.Is(err, store.ErrUsed):
		return &sdk.Error{Code: CodeSessionUsed, Message: usedMessage}
	case errors.Is(err, store.ErrUnavailable):
		return &sdk.Error{Code: CodeStoreUnavailable, Message: "the state store cannot be reached; try again shortly"}
	case errors.Is(err, context.Canceled):
		return &sdk.Error{Code: sdk.CodeGeneral, Message: "the request was canceled"}
	}
	return &sdk.Error{Code: CodeStoreUnavailable, Message: "the state store failed; try again shortly"}
}
