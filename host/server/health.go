package server

import (
	"net/http"

	"github.com/idplug/idplug/host"
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

// readyz is ready when every configured connector's plugin process runs and
// the store, if any, answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	st := readiness{Status: s.host.Status()}
	if db := s.settings.Store; db != nil {
		st.Store = &storeStatus{Backend: db.Backend(), OK: true}
		if err := db.Ping(r.Context()); err != nil {
			st.Store.OK, st.Store.Error, st.Ready = false, "the store cannot be reached", false
		}
	}
	code := http.StatusOK
	if !st.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
}
