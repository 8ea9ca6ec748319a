package server

import (
	"errors"
	"net/http"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// reload applies the configuration file again. A bad file changes nothing.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if err := s.settings.Reload(r.Context()); err != nil {
		var ve *host.ValidationError
		e := &sdk.Error{Code: sdk.CodeInvalidConfig, Message: "the new configuration was refused; the old one keeps serving: " + err.Error()}
		if errors.As(err, &ve) {
			e.Details = map[string]any{"problems": ve.Problems}
		}
		writeError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "connectors": len(s.host.Instances())})
}
