package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// The token vault: for instances that keep tokens, the token set of each
// sign-in is sealed into the store under (instance, provider user id), and an
// app backend reads it back, refreshed through the connector first when it is
// about to expire.

// maxUserIDLen bounds the user id in vault paths.
const maxUserIDLen = 512

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
	return m != nil && (*m)[id] && s.settings.Store != nil && s.settings.Vault != nil
}

// keepTokens stores the tokens of a finished sign-in, when the instance keeps
// them. A sign-in whose tokens cannot be kept fails: the app relies on them.
func (s *Server) keepTokens(ctx context.Context, id string, res *sdk.UserInfoResult) error {
	if !s.keepsTokens(id) || res.Tokens == nil || res.UserInfo.ID == "" {
		return nil
	}
	rec, err := s.settings.Vault.Seal(id, res.UserInfo.ID, res.Tokens)
	if err != nil {
		return err
	}
	err = s.settings.Store.PutTokens(ctx, rec)
	s.vaultOp("store", err)
	if err != nil {
		return storeError(err, "")
	}
	return nil
}

// vaultRecord checks the path of a vault route and that the instance keeps tokens.
func (s *Server) vaultRecord(r *http.Request) (id, userID string, err error) {
	id, userID = r.PathValue("id"), r.PathValue("userId")
	if _, err := s.host.Connector(id); err != nil {
		return "", "", err
	}
	switch {
	case !s.keepsTokens(id):
		return "", "", errNotFound(fmt.Sprintf("connector %s does not keep tokens: set storeTokens: true in its config (with a store and vault_keys)", id))
	case userID == "" || len(userID) > maxUserIDLen:
		return "", "", badRequest("userId must be 1 to %d bytes", maxUserIDLen)
	}
	return id, userID, nil
}

func (s *Server) vaultTokens(w http.ResponseWriter, r *http.Request) {
	id, userID, err := s.vaultRecord(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tokens, err := s.readVault(r.Context(), id, userID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": tokens})
}

func (s *Server) readVault(ctx context.Context, id, userID string) (*sdk.TokenSet, error) {
	st := s.settings.Store
	rec, err := st.Tokens(ctx, id, userID)
	s.vaultOp("read", err)
	if err != nil {
		return nil, s.vaultError(err, id, userID)
	}
	if rec.RefreshFailed {
		return nil, refusedRefresh()
	}
	tokens, err := s.settings.Vault.Open(rec)
	if err != nil {
		return nil, s.vaultKeyError(err)
	}
	if !s.needsRefresh(tokens) {
		return tokens, nil
	}
	return s.refreshVault(ctx, id, userID)
}

// refreshVault renews a record's tokens holding its lock, so that of every
// caller on every replica asking at once, one refreshes and the others read
// what it stored.
func (s *Server) refreshVault(ctx context.Context, id, userID string) (*sdk.TokenSet, error) {
	var out *sdk.TokenSet
	err := s.settings.Store.UpdateTokens(ctx, id, userID, func(rec store.TokenRecord) (*store.TokenRecord, error) {
		if rec.RefreshFailed {
			return nil, refusedRefresh()
		}
		tokens, err := s.settings.Vault.Open(rec)
		if err != nil {
			return nil, s.vaultKeyError(err)
		}
		if !s.needsRefresh(tokens) {
			out = tokens // another caller refreshed while this one waited
			return nil, nil
		}
		fresh, err := s.host.RefreshTokens(ctx, id, tokens.RefreshToken)
		if err != nil {
			if refusedByProvider(err) {
				s.refreshed("refused")
				rec.RefreshFailed = true
				return &rec, refusedRefresh()
			}
			s.refreshed("failed")
			return nil, err
		}
		s.refreshed("ok")
		if fresh.RefreshToken == "" {
			fresh.RefreshToken = tokens.RefreshToken
		}
		next, err := s.settings.Vault.Seal(id, userID, fresh)
		if err != nil {
			return nil, err
		}
		out = fresh
		return &next, nil
	})
	s.vaultOp("refresh", err)
	if err != nil {
		return nil, s.vaultError(err, id, userID)
	}
	return out, nil
}

func (s *Server) deleteVaultTokens(w http.ResponseWriter, r *http.Request) {
	id, userID, err := s.vaultRecord(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rec, err := s.settings.Store.DeleteTokens(r.Context(), id, userID)
	s.vaultOp("delete", err)
	if err != nil {
		writeError(w, r, s.vaultError(err, id, userID))
		return
	}
	res := deleteTokensResponse{Deleted: true}
	tokens, err := s.settings.Vault.Open(rec)
	if err != nil {
		// Deleted, but nothing to revoke with: say so.
		res.RevokeError = string(sdk.CodeGeneral)
		writeJSON(w, http.StatusOK, res)
		return
	}
	// Revoking the refresh token ends the grant at most providers (RFC 7009 2.1);
	// the access token goes too where there is no refresh token.
	token, hint := tokens.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = tokens.AccessToken, "access_token"
	}
	if token != "" {
		err := s.host.RevokeToken(r.Context(), id, token, hint)
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

func (s *Server) needsRefresh(t *sdk.TokenSet) bool {
	return t.RefreshToken != "" && !t.ExpiresAt.IsZero() && time.Until(t.ExpiresAt) < s.settings.RefreshMargin
}

// refusedByProvider tells a refresh the provider refused (the grant is gone)
// from one that failed on the way (worth a retry).
func refusedByProvider(err error) bool {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case sdk.CodeSocialAccessTokenInvalid, sdk.CodeSocialAuthCodeInvalid, sdk.CodeAuthorizationFailed:
		return true
	}
	return false
}

func refusedRefresh() error {
	return &sdk.Error{Code: sdk.CodeSocialAccessTokenInvalid,
		Message: "the provider refused to refresh these tokens; the user must sign in again"}
}

func (s *Server) vaultError(err error, id, userID string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound(fmt.Sprintf("connector %s holds no tokens for this user", id))
	}
	var e *sdk.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, store.ErrUnavailable) {
		return storeError(err, "")
	}
	return err
}

// vaultKeyError reports a record that does not open: the operator's to fix
// (a vault key was dropped too early); the message names the key, never a secret.
func (s *Server) vaultKeyError(err error) error {
	s.log.Error("vault record does not open", "error", err)
	return &sdk.Error{Code: sdk.CodeGeneral, Message: err.Error()}
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
		result = string(asError(err).Code)
	}
	s.metrics.VaultOp(op, result)
}

func (s *Server) refreshed(result string) {
	if s.metrics != nil {
		s.metrics.VaultRefresh(result)
	}
}
