package server

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/catalog"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is /readyz's answer: the host's status and the store's.
type readiness struct {
	host.Status
	Store *storeStatus `json:"store,omitempty"`
}

type storeStatus struct {
	Backend string `json:"backend"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// readiness is ready when every configured connector's plugin process runs and
// the store, if any, answers.
func (s *Server) readiness(ctx context.Context) readiness {
	st := readiness{Status: s.host.Status()}
	if db := s.settings.Store; db != nil {
		st.Store = &storeStatus{Backend: db.Backend(), OK: true}
		if err := db.Ping(ctx); err != nil {
			st.Store.OK, st.Store.Error, st.Ready = false, "the store cannot be reached", false
		}
	}
	return st
}

// readyzDetailed is ready when every configured connector's plugin process runs
// and the store answers, with every detail: for the admin listener, or the main
// one without it.
func (s *Server) readyzDetailed(w http.ResponseWriter, r *http.Request) {
	st := s.readiness(r.Context())
	writeJSON(w, readyStatus(st.Status), st)
}

// readyzPublic gives the details without the server's file system: a refusal's
// reason names files by their base name only.
func (s *Server) readyzPublic(w http.ResponseWriter, r *http.Request) {
	st := s.readiness(r.Context())
	refused := make([]catalog.Entry, len(st.Refused))
	for i, e := range st.Refused {
		refused[i] = catalog.Entry{File: filepath.Base(e.File), Reason: withoutPaths(e.Reason)}
	}
	st.Refused = refused
	writeJSON(w, readyStatus(st.Status), st)
}

// readyzBare is the main listener's /readyz when the details have a listener of
// their own.
func (s *Server) readyzBare(w http.ResponseWriter, r *http.Request) {
	st := s.readiness(r.Context())
	writeJSON(w, readyStatus(st.Status), map[string]bool{"ready": st.Ready})
}

func readyStatus(st host.Status) int {
	if st.Ready {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// absolutePath matches an absolute file path in a message.
var absolutePath = regexp.MustCompile(`(^|[\s"'(=:])(/[^\s"'():,;]+)`)

// withoutPaths replaces every absolute path in msg by its base name.
func withoutPaths(msg string) string {
	return absolutePath.ReplaceAllStringFunc(msg, func(m string) string {
		loc := absolutePath.FindStringSubmatchIndex(m)
		return m[:loc[4]] + filepath.Base(m[loc[4]:])
	})
}
