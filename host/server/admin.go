package server

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// reload applies the configuration file again. A bad file changes nothing.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	// The route takes no parameters: a body that names any (a client that
	// means to pass a file or a setting) is refused, not ignored.
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(bytes.TrimSpace(body)) > 0 && !bytes.Equal(bytes.TrimSpace(body), []byte("{}")) {
		writeError(w, r, badRequest("the reload takes no body: it reads the configuration file again"))
		return
	}
	if err := s.settings.Reload(r.Context()); err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			// Not the file's fault: the same file applies once the store
			// answers (the OpenID Provider's signing keys are read from it).
			s.storeWarnings.warn(s.log, "state store unavailable", err)
			writeError(w, r, &sdk.Error{Code: CodeStoreUnavailable,
				Message: "the reload was not applied, because the state store cannot be reached; the old configuration keeps serving: try again shortly"})
			return
		}
		e := &sdk.Error{Code: sdk.CodeInvalidConfig, Message: "the new configuration was refused; the old one keeps serving: " + err.Error()}
		// The file's own problems (config.Error) and its connectors' (host.ValidationError).
		var pl interface{ ProblemDetails() any }
		if errors.As(err, &pl) {
			e.Details = map[string]any{"problems": pl.ProblemDetails()}
		}
		writeError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "connectors": len(s.host.Instances())})
}
