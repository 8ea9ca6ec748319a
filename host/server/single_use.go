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

// consumedMargin keeps a consumed id past its flow's expiry, so that neither the
// moment the seal is made nor clocks that differ between replicas open a window
// where the seal is still good and its id already purged.
const consumedMargin = 5 * time.Minute

// stampFlow gives f a fresh id and its expiry, before it is sealed.
func (s *Server) stampFlow(f flow) flow {
	f.ID = s.newFlowID()
	f.Expires = time.Now().Add(s.settings.FlowTTL).Unix()
	return f
}

// newFlowID is 256 random bits, named by the store's run when the store keeps
// consumed flows in this process's memory (SQLite): after a crash, the ids of
// flows from before it are told apart and refused.
func (s *Server) newFlowID() string {
	if r, ok := s.settings.Store.(store.RunScoped); ok {
		return r.NewFlowID()
	}
	return newState()
}

// sealFlow stamps f and seals it.
func (s *Server) sealFlow(purpose string, f flow) (string, error) {
	return s.sealJSON(purpose, s.stampFlow(f), s.settings.FlowTTL)
}

// consumeFlow records an opened flow as finished; ErrUsed becomes session_used.
func (s *Server) consumeFlow(ctx context.Context, f flow, what string) error {
	if s.settings.Store == nil {
		return nil
	}
	if f.ID == "" {
		return &sdk.Error{Code: CodeSessionInvalid, Message: what + " was sealed without an id for single use; start the sign-in again"}
	}
	err := s.settings.Store.ConsumeFlow(ctx, f.ID, time.Unix(f.Expires, 0).Add(consumedMargin))
	switch {
	case errors.Is(err, store.ErrStale):
		return &sdk.Error{Code: CodeSessionExpired, Message: what + " was started before idplug restarted after an unclean stop (a crash, or a kill), " +
			"or by a run of idplug this database does not know of (a database restored from a backup, another process): " +
			"whether it was finished before cannot be known, so it cannot be finished now; start the sign-in again"}
	case err != nil:
		return s.storeError(err, what+" was used already: a sign-in can be finished once; start again")
	}
	return nil
}

// storeError turns a store failure into the error a client sees: used for
// ErrUsed, store_unavailable for a database that does not answer. The client
// is told nothing of the database; the log says which call failed and how.
func (s *Server) storeError(err error, usedMessage string) error {
	switch {
	case errors.Is(err, store.ErrUsed):
		return &sdk.Error{Code: CodeSessionUsed, Message: usedMessage}
	case errors.Is(err, store.ErrUnavailable):
		s.storeWarnings.warn(s.log, "state store unavailable", err)
		return &sdk.Error{Code: CodeStoreUnavailable, Message: "the state store cannot be reached; try again shortly"}
	case errors.Is(err, context.Canceled):
		return &sdk.Error{Code: sdk.CodeGeneral, Message: "the request was canceled"}
	}
	s.storeWarnings.warn(s.log, "state store failed", err)
	return &sdk.Error{Code: CodeStoreUnavailable, Message: "the state store failed; try again shortly"}
}
