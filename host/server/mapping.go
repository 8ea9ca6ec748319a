package server

import (
	"bytes"
	"net/http"

	"github.com/idplug/idplug/host/mapping"
)

// testMapping is the dry run of a connector's mapping against the running
// configuration: POST /v1/connectors/{id}/mapping/test with {"profile": {...},
// "raw": {...}} answers what a sign-in with that profile would give,
// {"userInfo", "claims"}, or the refusal or failure the sign-in would get. No
// plugin is called. It reveals how the connector's users are mapped and
// refused, which is an administrator's business (see the route's scope).
func (s *Server) testMapping(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.host.Instance(id); err != nil {
		writeError(w, r, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The sample is read as `idplug map` reads it, so the route and the command
	// answer alike. Its raw part is a provider's data, kept as a sign-in keeps
	// it (a name twice: the last counts), and nothing here changes state, so
	// the rule against names given twice in other bodies has nothing to guard.
	u, err := mapping.ReadSample(bytes.NewReader(body))
	if err != nil {
		writeError(w, r, badRequest("%v", err))
		return
	}
	res, err := s.host.MapUserInfo(r.Context(), id, u)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res.Output())
}
