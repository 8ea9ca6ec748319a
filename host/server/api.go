package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/idplug/idplug/sdk"
)

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"connectors": s.host.Connectors()})
}

func (s *Server) describeConnector(w http.ResponseWriter, r *http.Request) {
	d, err := s.host.Connector(r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

type authorizationRequest struct {
	RedirectURI string `json:"redirectUri"`
	State       string `json:"state"`
}

func (s *Server) authorizationURI(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req authorizationRequest
	if err := s.readJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if err := checkRedirectURI(req.RedirectURI); err != nil {
		writeError(w, r, err)
		return
	}
	if req.State == "" {
		req.State = newState()
	}
	auth, err := s.host.AuthorizationURI(r.Context(), id, req.RedirectURI, req.State)
	if err != nil {
		writeError(w, r, err)
		return
	}
	session, err := s.sealJSON(apiFlowPurpose(id), flow{Session: auth.Session, RedirectURI: req.RedirectURI, State: req.State}, s.settings.FlowTTL)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirectTo": auth.RedirectTo, "state": req.State, "session": session})
}

type userInfoRequest struct {
	Session string                     `json:"session"`
	Data    map[string]json.RawMessage `json:"data"`
}

func (s *Server) userInfo(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req userInfoRequest
	if err := s.readJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Session == "" {
		writeError(w, r, sdk.Errorf(sdk.CodeInsufficientRequestParameters, "session is required: pass the session that authorization-uri returned"))
		return
	}
	var f flow
	if err := s.openJSON(apiFlowPurpose(id), req.Session, "the session", &f); err != nil {
		writeError(w, r, err)
		return
	}
	data, err := callbackData(req.Data)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.host.UserInfo(r.Context(), id, f.Session, data)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body := map[string]any{"userInfo": res.UserInfo}
	if res.Tokens != nil {
		body["tokens"] = res.Tokens
	}
	writeJSON(w, http.StatusOK, body)
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := s.readJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.RefreshToken == "" {
		writeError(w, r, sdk.Errorf(sdk.CodeInsufficientRequestParameters, "refreshToken is required"))
		return
	}
	tokens, err := s.host.RefreshTokens(r.Context(), r.PathValue("id"), req.RefreshToken)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": tokens})
}

// readJSON decodes a size-capped JSON body, refusing unknown fields.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.settings.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &sdk.Error{Code: CodeRequestTooLarge, Message: fmt.Sprintf("the request body is over %d bytes", s.settings.MaxBodyBytes)}
	case errors.Is(err, io.EOF):
		return badRequest("the request body must be a JSON object")
	case err != nil:
		return badRequest("the request body is not valid: %v", err)
	}
	if dec.More() {
		return badRequest("the request body must hold one JSON object")
	}
	return nil
}

func checkRedirectURI(raw string) error {
	if raw == "" {
		return sdk.Errorf(sdk.CodeInsufficientRequestParameters, "redirectUri is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return badRequest("redirectUri must be an absolute http(s) URL without a fragment")
	}
	return nil
}

// callbackData turns the callback parameters into strings: strings as they are,
// numbers and booleans as written; anything else is refused by name.
func callbackData(in map[string]json.RawMessage) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, raw := range in {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, badRequest("data.%s is not valid JSON", k)
		}
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64, bool:
			out[k] = string(raw)
		case nil:
			// an absent value
		default:
			return nil, badRequest("data.%s must be a string, got %s", k, kind(v))
		}
	}
	return out, nil
}

func kind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return strconv.Quote(fmt.Sprintf("%T", v))
	}
}
