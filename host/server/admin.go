package server

import (
	"errors"
	"net/http"

	"github.com/idplug/idplug/sdk"
)

// reload applies the configuration file again. A bad file changes nothing.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if err := s.settings.Reload(r.Context()); err != nil {
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
