package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/vault"
	"github.com/idplug/idplug/sdk"
)

// The token vault's routes: for instances that keep tokens, an app backend reads
// the token set of a user's last sign-in back, fresh. The policy (sealing,
// refresh under a lock, refused refreshes) is host/vault's Keeper.

// tokenStorage is the set of instances that keep tokens; swapped on reload.
type tokenStorage = atomic.Pointer[map[string]bool]

// SetTokenStorage names the instances whose tokens the vault keeps.
func (s *Server) SetTokenStorage(ids []string) {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	s.keep.Store(&m)
}

func (s *Server) keepsTokens(id string) bool {
	m := s.keep.Load()
	return m != nil && (*m)[id] && s.vault != nil
}

// newKeeper is the vault's policy over the store, with this server's metrics;
// nil without a store or vault keys.
func (s *Server) newKeeper() *vault.Keeper {
	if s.settings.Store == nil || s.settings.Vault == nil {
		return nil
	}
	return &vault.Keeper{
		Vault:     s.settings.Vault,
		Tokens:    s.settings.Store,
		Refresh:   s.host.RefreshTokensFor,
		Provider:  s.host.TokensProvider,
		RemovedAt: s.removedAt,
		Margin:    s.settings.RefreshMargin,
		OnOp:      s.vaultOp,
		OnRefresh: s.refreshed,
	}
}

// keepTokens stores the tokens of a finished sign-in, when the instance keeps
// them. A sign-in whose tokens cannot be kept fails: the app relies on them.
// provider is who the connector named (Instances.TokensProvider) before its
// plugin was asked: the tokens are bound to it, so that a reload pointing the
// connector elsewhere meanwhile leaves them unused rather than sent there.
func (s *Server) keepTokens(ctx context.Context, id, provider string, res *sdk.UserInfoResult) error {
	if !s.keepsTokens(id) || res.Tokens == nil || res.UserInfo.ID == "" {
		return nil
	}
	if err := s.vault.PutFor(ctx, id, res.UserInfo.ID, provider, res.Tokens); err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			// The provider's code is spent and the flow consumed: the
			// same callback cannot succeed again, so "try again" would
			// send the app into session_used.
			s.storeWarnings.warn(s.log, "state store unavailable", err)
			return &sdk.Error{Code: CodeStoreUnavailable, Message: "the provider signed the user in, but the state store could not keep " +
				"the tokens, and the provider's code is spent: start the sign-in again"}
		}
		return err
	}
	return nil
}

// vaultRecord checks the path of a vault route and that the instance keeps
// tokens. A delete needs only a vault: the records an instance kept before a
// reload set its storeTokens to false stay in the store, refresh tokens and
// all, and an app erasing a user must still be able to end them (they would
// serve again once storeTokens is back).
func (s *Server) vaultRecord(r *http.Request, deleting bool) (id, userID string, err error) {
	id, userID = r.PathValue("id"), r.PathValue("userId")
	if _, err := s.host.Instance(id); err != nil {
		return "", "", err
	}
	switch {
	case s.vault == nil, !deleting && !s.keepsTokens(id):
		return "", "", errNotFound(fmt.Sprintf("connector %s does not keep tokens: set storeTokens: true in its config (with a store and vault_keys)", id))
	}
	// An id no sign-in could have stored (a NUL, which PostgreSQL refuses: a
	// 503 store_unavailable while the store is up) is the caller's mistake.
	if err := host.CheckUserID(userID); err != nil {
		return "", "", badRequest("userId %v", err)
	}
	return id, userID, nil
}

func (s *Server) vaultTokens(w http.ResponseWriter, r *http.Request) {
	id, userID, err := s.vaultRecord(r, false)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tokens, err := s.vault.Read(r.Context(), id, userID)
	if err != nil {
		writeError(w, r, s.vaultError(err, id))
		return
	}
	// The refresh token outlives every access token it makes: only a key
	// that holds tokens:read_refresh gets it.
	if tokens != nil && tokens.RefreshToken != "" && !callerKey(r).Has(apikey.TokensReadRefresh) {
		t := *tokens
		t.RefreshToken = ""
		tokens = &t
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": tokens})
}

func (s *Server) deleteVaultTokens(w http.ResponseWriter, r *http.Request) {
	id, userID, err := s.vaultRecord(r, true)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tokens, provider, err := s.vault.Delete(r.Context(), id, userID)
	var open *vault.OpenError
	var other *vault.OtherProviderError
	switch {
	case errors.As(err, &open):
		// Deleted, but nothing to revoke with: say so.
		s.log.Error("vault record does not open", "error", err)
		writeJSON(w, http.StatusOK, deleteTokensResponse{Deleted: true, RevokeError: string(sdk.CodeGeneral)})
		return
	case errors.As(err, &other):
		// Deleted; its tokens are another provider's, not this one's to revoke.
		s.log.Warn("vault record deleted without revocation", "error", err.Error())
		writeJSON(w, http.StatusOK, deleteTokensResponse{Deleted: true, RevokeError: string(sdk.CodeGeneral)})
		return
	case err != nil:
		writeError(w, r, s.vaultError(err, id))
		return
	}
	res := deleteTokensResponse{Deleted: true}
	// Revoking the refresh token ends the grant at most providers (RFC 7009 2.1);
	// the access token goes too where there is no refresh token.
	token, hint := tokens.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = tokens.AccessToken, "access_token"
	}
	if token != "" {
		err := s.host.RevokeTokenFor(r.Context(), id, provider, token, hint)
		switch {
		case err == nil:
			res.Revoked = true
		default:
			res.RevokeError = string(asError(err).Code)
		}
	}
	writeJSON(w, http.StatusOK, res)
}

type deleteTokensResponse struct {
	Deleted bool `json:"deleted"`
	// Revoked is true when the provider revoked the grant.
	Revoked bool `json:"revoked"`
	// RevokeError is the error code of a revocation that did not happen
	// (not_implemented when the connector cannot revoke).
	RevokeError string `json:"revokeError,omitempty"`
}

// vaultError turns what the keeper returns into the API's errors. A record that
// does not open is the operator's to fix (a vault key was dropped too early):
// logged, and answered with a message that names the key, never a secret.
func (s *Server) vaultError(err error, id string) error {
	var open *vault.OpenError
	var other *vault.OtherProviderError
	var e *sdk.Error
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(fmt.Sprintf("connector %s holds no tokens for this user", id))
	case errors.As(err, &other):
		return errNotFound(fmt.Sprintf("connector %s holds no tokens for this user from the provider it is configured with now: %v", id, err))
	case errors.As(err, &open):
		s.log.Error("vault record does not open", "error", err)
		return &sdk.Error{Code: sdk.CodeGeneral, Message: err.Error()}
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrUnavailable):
		return s.storeError(err, "")
	}
	return err
}

func (s *Server) vaultOp(op string, err error) {
	if s.metrics == nil {
		return
	}
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		result = "not_found"
	case errors.Is(err, store.ErrUnavailable):
		result = "store_unavailable"
	default:
		// A refresh's error carries the plugin's code: kept only when idplug defines it.
		result = metrics.CodeLabel(asError(err).Code)
	}
	s.metrics.VaultOp(op, result)
}

func (s *Server) refreshed(result string) {
	if s.metrics != nil {
		s.metrics.VaultRefresh(result)
	}
}
