package server

import (
	"net/http"
	"path/filepath"
	"regexp"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/catalog"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyzDetailed is ready when every configured connector's plugin process runs,
// with every detail: for the admin listener, or the main one without it.
func (s *Server) readyzDetailed(w http.ResponseWriter, _ *http.Request) {
	st := s.host.Status()
	writeJSON(w, readyStatus(st), st)
}

// readyzPublic gives the details without the server's file system: a refusal's
// reason names files by their base name only.
func (s *Server) readyzPublic(w http.ResponseWriter, _ *http.Request) {
	st := s.host.Status()
	refused := make([]catalog.Entry, len(st.Refused))
	for i, e := range st.Refused {
		refused[i] = catalog.Entry{File: filepath.Base(e.File), Reason: withoutPaths(e.Reason)}
	}
	st.Refused = refused
	writeJSON(w, readyStatus(st), st)
}

// readyzBare is the main listener's /readyz when the details have a listener of
// their own.
func (s *Server) readyzBare(w http.ResponseWriter, _ *http.Request) {
	st := s.host.Status()
	writeJSON(w, readyStatus(st), map[string]bool{"ready": st.Ready})
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
