package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// Browser sessions. With a store, the session cookie only names a record (a
// random id, sealed so that it cannot be guessed or forged): sign-out revokes
// the record, and a revoked or expired record is signed out on every replica,
// whoever still holds a copy of the cookie. Without a store the cookie carries
// the sealed session itself (usersession.go).

// sessionRefPurpose seals a cookie that names a stored session; a stateless
// session cookie (userSessionPurpose) never opens as one, nor the reverse.
const sessionRefPurpose = "user-session-ref"

// sessionRowPurpose seals a stored session's row under the session keys, with
// the row's id in the purpose (authenticated data): whoever can write the
// store can neither edit a session nor move it to another id.
func sessionRowPurpose(storedID string) string { return "user-session-row:" + storedID }

type sessionRef struct {
	ID string `json:"id"`
}

// storedSessionID is the key of a session's record: the SHA-256 of the
// cookie's id, so that reading the table gives nobody a usable cookie.
func storedSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// startUserSession makes the session cookie of a finished sign-in, whose
// profile source vouched for (sessionSources).
func (s *Server) startUserSession(ctx context.Context, id, source string, u sdk.UserInfo, claims map[string]any) (*http.Cookie, error) {
	st := s.settings.Store
	if st == nil {
		return s.userSessionCookie(id, source, u, claims)
	}
	// The record may hold the whole profile: no cookie size to fit in.
	data, err := json.Marshal(userSession{Connector: id, UserInfo: u, Claims: claims, AuthTime: s.signInTime(id), Source: source})
	if err != nil {
		return nil, err
	}
	ttl := s.settings.UserSessionTTL
	ref := sessionRef{ID: newState()}
	rowID := storedSessionID(ref.ID)
	sealedRow, err := s.sealer().SealRecord(sessionRowPurpose(rowID), data, ttl)
	if err != nil {
		return nil, err
	}
	if err := st.PutSession(ctx, rowID, sealedRow, time.Now().Add(ttl)); err != nil {
		return nil, s.storeError(err, "")
	}
	sealed, err := s.sealJSON(sessionRefPurpose, ref, ttl)
	if err != nil {
		return nil, err
	}
	return s.cookies.session(sealed, ttl), nil
}

// currentUser is the signed-in user, or false: a store that does not answer
// counts as signed out.
func (s *Server) currentUser(r *http.Request) (userSession, bool) {
	sess, ok, _ := s.lookupUser(r)
	return sess, ok
}

// lookupUser reads the session the cookie names. A missing, expired or revoked
// session is false; a stored row that does not open (edited, moved to another
// id) is session_invalid, logged at WARN; a row stored unsealed by an earlier
// release is signed out; a store that cannot be reached is an error.
func (s *Server) lookupUser(r *http.Request) (userSession, bool, error) {
	var sess userSession
	c, err := r.Cookie(s.cookies.sessionName())
	if err != nil {
		return sess, false, nil
	}
	st := s.settings.Store
	if st == nil {
		err := s.openJSON(userSessionPurpose, c.Value, "the session", &sess)
		return sess, err == nil && s.connectorServes(sess), nil
	}
	var ref sessionRef
	if err := s.openJSON(sessionRefPurpose, c.Value, "the session", &ref); err != nil || ref.ID == "" {
		return sess, false, nil
	}
	rowID := storedSessionID(ref.ID)
	row, err := st.Session(r.Context(), rowID, time.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sess, false, nil
	case err != nil:
		return sess, false, s.storeError(err, "")
	}
	data, err := s.sealer().OpenRecord(sessionRowPurpose(rowID), row)
	if err == nil {
		err = json.Unmarshal(data, &sess)
	}
	if err != nil {
		// Never the row's content, nor the cookie's id: only a prefix of the row's key.
		if len(row) > 0 && row[0] == '{' {
			// Stored unsealed by an earlier release (or written by hand): the
			// user is signed out and signs in again.
			s.log.Warn("a stored browser session is not sealed (stored by an earlier release, or written into the store); refused, the user signs in again",
				"row", rowID[:12])
			return sess, false, nil
		}
		s.log.Warn("a stored browser session does not open under the session keys: edited in the store, moved from another id, or sealed with a key no longer configured; refused",
			"row", rowID[:12])
		return sess, false, &sdk.Error{Code: CodeSessionInvalid, Message: "the stored session is not valid; sign in again"}
	}
	return sess, s.connectorServes(sess), nil
}

// connectorServes says whether the connector a session signed in with is still
// configured, at the provider it signed in at: one the operator removed (a
// connector found hostile, say) signs its users out at once, not at the end of
// session_ttl, and its sessions stay signed out when a reload configures the
// id again (the plugin fixed). So does one a reload pointed at another
// provider or target: its sessions' profiles were that provider's word, and
// /user and the OpenID Provider's single sign-on would pass them off as the
// new one's (the same user id there, another person). And one whose mapping
// a reload changed: an allow rule added to lock a user out would otherwise
// leave their session, mapped the old way, serving until it expires.
func (s *Server) connectorServes(sess userSession) bool {
	now, unnamed, _, err := s.sessionSources(sess.Connector)
	if err != nil || sess.Source != "" && sess.Source != now && sess.Source != unnamed {
		return false
	}
	at, ok := s.removedAt(sess.Connector)
	return !ok || sess.AuthTime > at
}

// sessionSources names who vouches for connector id's profiles now, and how
// they are mapped: a digest of its target, its mapping (mapping.Fingerprint),
// and its plugin and the provider that plugin names for the configuration
// (Instances.TokensProvider, the vault's binding). A reload that points the
// id elsewhere or maps profiles otherwise changes it; one that changes a
// secret or a scope does not. unnamed is the digest the same plugin gave
// before it named a provider: its sessions serve on once it does, as the
// vault's records do. provider is the vault's binding itself, for the tokens
// of a sign-in that begins now (keepTokens).
func (s *Server) sessionSources(id string) (now, unnamed, provider string, err error) {
	d, err := s.host.Instance(id)
	if err != nil {
		return "", "", "", err
	}
	provider, err = s.host.TokensProvider(id)
	if err != nil {
		return "", "", "", err
	}
	digest := func(p string) string {
		sum := sha256.Sum256([]byte(d.Target + "\n" + d.Mapping + "\n" + p))
		return base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	plugin, _, _ := strings.Cut(provider, "\n")
	return digest(provider), digest(plugin + "\n"), provider, nil
}

// signInTime is the AuthTime (Unix ms) of a session connector id makes now:
// after the last removal of id, even within the millisecond of that removal,
// so a session made once the connector is back always serves.
func (s *Server) signInTime(id string) int64 {
	now := time.Now().UnixMilli()
	if at, ok := s.removedAt(id); ok && now <= at {
		return at + 1
	}
	return now
}

// ConnectorSources is who vouches for connector id's profiles now, as its
// browser sessions record it, and what the same plugin gave before it named
// its provider (sessionSources), for the OpenID Provider's grants.
func (s *Server) ConnectorSources(id string) (now, unnamed string, ok bool) {
	now, unnamed, _, err := s.sessionSources(id)
	return now, unnamed, err == nil
}

// ConnectorRemovedAt is when connector id was last removed (Unix ms), if
// ever, for the OpenID Provider's grants.
func (s *Server) ConnectorRemovedAt(id string) (int64, bool) { return s.removedAt(id) }

// removedAt is when connector id was last removed (Unix ms), if ever.
func (s *Server) removedAt(id string) (int64, bool) {
	if m := s.removed.Load(); m != nil {
		at, ok := (*m)[id]
		return at, ok
	}
	return 0, false
}

// SetConnectors names the configured connectors, at start and after each
// reload: a connector missing from the new set is remembered as removed now,
// and a session it made before then never serves again. With a store, the
// removals are written there too, and those of every process sharing it (a
// replica, or this one before a restart) are read back: a restart between a
// connector's removal and its return had forgotten the removal. When the store
// fails, this process's removals still hold, and the error says what was not
// kept.
func (s *Server) SetConnectors(ctx context.Context, ids []string) error {
	s.connectorsMu.Lock()
	defer s.connectorsMu.Unlock()
	now := time.Now().UnixMilli()
	next := make(map[string]bool, len(ids))
	for _, id := range ids {
		next[id] = true
	}
	updated := map[string]int64{}
	if m := s.removed.Load(); m != nil {
		maps.Copy(updated, *m)
	}
	for id := range s.connectors {
		if !next[id] {
			updated[id] = now
		}
	}
	s.connectors = next
	// This process's removals hold at once, not only once the store answers.
	s.removed.Store(&updated)
	st := s.settings.Store
	if st == nil {
		return nil
	}
	stored, err := st.ConnectorsConfigured(ctx, ids, time.UnixMilli(now))
	if err != nil {
		return fmt.Errorf("the store did not record which connectors are configured (a removal is kept by this process only, until it stops): %w", err)
	}
	merged := maps.Clone(updated)
	for id, at := range stored {
		merged[id] = max(merged[id], at)
	}
	s.removed.Store(&merged)
	return nil
}

// endUserSession revokes the session the request's cookie names, if any.
func (s *Server) endUserSession(r *http.Request) error {
	st := s.settings.Store
	c, err := r.Cookie(s.cookies.sessionName())
	if st == nil || err != nil {
		return nil
	}
	var ref sessionRef
	if err := s.openJSON(sessionRefPurpose, c.Value, "the session", &ref); err != nil || ref.ID == "" {
		return nil
	}
	if err := st.RevokeSession(r.Context(), storedSessionID(ref.ID)); err != nil {
		return s.storeError(err, "")
	}
	return nil
}
