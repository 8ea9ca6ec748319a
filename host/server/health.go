package server

import "net/http"

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when every configured connector's plugin process runs.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	st := s.host.Status()
	code := http.StatusOK
	if !st.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
}
