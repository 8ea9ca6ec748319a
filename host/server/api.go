package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// listConnectors lists the connectors the caller's key may act on: a key
// limited to some is not told of the others (their names, logos, plugins).
func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	all := s.host.Instances()
	key := callerKey(r)
	list := make([]host.Instance, 0, len(all))
	for _, c := range all {
		if key.OnConnector(c.ID) {
			list = append(list, c)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connectors": list})
}

func (s *Server) describeConnector(w http.ResponseWriter, r *http.Request) {
	d, err := s.host.Instance(r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

type authorizationRequest struct {
	RedirectURI string `json:"redirectUri"`
	State       string `json:"state"`
	// Scope, when set, replaces the connector's configured scope for this sign-in.
	Scope string `json:"scope"`
}

func (s *Server) authorizationURI(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req authorizationRequest
	if err := s.readJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	// Everything the caller sends is bounded before the plugin is called, so
	// what it seals afterwards fits.
	if err := checkRedirectURI(req.RedirectURI); err != nil {
		writeError(w, r, err)
		return
	}
	if err := checkState(req.State); err != nil {
		writeError(w, r, err)
		return
	}
	if req.State == "" {
		req.State = newState()
	}
	if err := checkScope(req.Scope); err != nil {
		writeError(w, r, err)
		return
	}
	provider := s.flowProvider(id) // before the URL: a reload in between makes the flow the old one's
	auth, err := s.authorize(r.Context(), id, req.RedirectURI, req.State, host.WithScope(req.Scope))
	if err != nil {
		writeError(w, r, err)
		return
	}
	session, err := s.sealFlow(apiFlowPurpose(id), flow{Session: auth.Session, State: req.State, Provider: provider})
	if err != nil {
		writeError(w, r, s.blamePlugin(err, id, "a session"))
		return
	}
	writeJSON(w, http.StatusOK, authorizationResponse{RedirectTo: auth.RedirectTo, State: req.State, Session: session})
}

type authorizationResponse struct {
	RedirectTo string `json:"redirectTo"`
	State      string `json:"state"`
	Session    string `json:"session"`
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
	data, err := callbackData(req.Data)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var f flow
	if err := s.openJSON(apiFlowPurpose(id), req.Session, "the session", &f); err != nil {
		writeError(w, r, err)
		return
	}
	// A state in the callback is this flow's, or the callback is another's: it
	// reaches no plugin and spends nothing, as at the browser's callback. The
	// plugin checks it again against the session.
	if state, ok := data["state"]; ok && f.State != "" && sameState(state, f.State) != nil {
		writeError(w, r, badRequest("state does not match the session's: this callback belongs to another sign-in; nothing was spent"))
		return
	}
	// A callback that is plainly incomplete is refused before the flow is
	// spent, so that the client can send it again, whole.
	if err := incompleteCallback(data, f.State != ""); err != nil {
		writeError(w, r, err)
		return
	}
	// A connector removed by a reload spends nothing: put back, it finishes
	// the sign-in (which had become session_used, though never used).
	if err := s.host.CheckInstance(id); err != nil {
		writeError(w, r, err)
		return
	}
	// Who the tokens come from, read before the plugin is asked (keepTokens),
	// and the one the flow started with.
	provider, err := s.host.TokensProvider(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := sameProvider(f, id, provider); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.consumeFlow(r.Context(), f, "the session"); err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.host.UserInfo(r.Context(), id, f.Session, data)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.keepTokens(r.Context(), id, provider, &res.UserInfoResult); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userInfoResponse{UserInfo: res.UserInfo, Tokens: res.Tokens, Claims: res.Claims})
}

// incompleteCallback refuses callback data that cannot finish a sign-in:
// none at all, or an OAuth callback (it has a code or a state) without its
// code (or the provider's error), or without the state its flow holds. A
// connector's other shapes (a SAML response) pass to the plugin.
func incompleteCallback(data map[string]string, flowHasState bool) error {
	_, code := data["code"]
	_, providerError := data["error"]
	_, state := data["state"]
	switch {
	case len(data) == 0:
		return sdk.Errorf(sdk.CodeInsufficientRequestParameters,
			"data is required: the callback's parameters as the provider sent them (code, state, ...); nothing was spent: send the callback again, whole")
	case state && !code && !providerError:
		return sdk.Errorf(sdk.CodeInsufficientRequestParameters,
			"data.code is required (or data.error, as the provider sent it); nothing was spent: send the callback again, whole")
	case code && !state && flowHasState:
		return sdk.Errorf(sdk.CodeInsufficientRequestParameters,
			"data.state is required: the state the provider sent back with the code; nothing was spent: send the callback again, whole")
	}
	return nil
}

type userInfoResponse struct {
	UserInfo sdk.UserInfo  `json:"userInfo"`
	Tokens   *sdk.TokenSet `json:"tokens,omitempty"`
	// Claims are those the connector's mapping adds; {} without a mapping.
	Claims map[string]any `json:"claims"`
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

// checkScope refuses a scope that is not a list of RFC 6749 section 3.3 scope
// tokens separated by single spaces: anything else would reach the provider
// mangled or ambiguous.
func checkScope(scope string) error {
	if scope == "" {
		return nil
	}
	if len(scope) > maxScopeLength {
		return badRequest("scope is longer than %d bytes", maxScopeLength)
	}
	for _, tok := range strings.Split(scope, " ") {
		if tok == "" {
			return badRequest("scope must be scope tokens separated by single spaces")
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
				return badRequest("scope has a character a scope token may not hold (RFC 6749 section 3.3)")
			}
		}
	}
	return nil
}

const maxScopeLength = 2048

func checkRedirectURI(raw string) error {
	if raw == "" {
		return sdk.Errorf(sdk.CodeInsufficientRequestParameters, "redirectUri is required")
	}
	if err := checkLength("redirectUri", raw, maxRedirectURILen); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return badRequest("redirectUri must be an absolute http(s) URL without a fragment")
	}
	return nil
}

// callbackData turns the callback parameters into strings: strings as they are,
// numbers and booleans as written; anything else is refused by name. The values
// are valid JSON already (the body decoder checked them): the first byte tells
// their kind, and only strings need decoding.
func callbackData(in map[string]json.RawMessage) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, raw := range in {
		if len(raw) == 0 {
			return nil, badRequest("data.%s is not valid JSON", k)
		}
		switch raw[0] {
		case '"':
			var v string
			if err := jsonv2.Unmarshal(raw, &v); err != nil {
				return nil, badRequest("data.%s is not valid JSON", k)
			}
			out[k] = v
		case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			out[k] = string(raw)
		case 'n':
			// null: an absent value
		case '[':
			return nil, badRequest("data.%s must be a string, got an array", k)
		case '{':
			return nil, badRequest("data.%s must be a string, got an object", k)
		default:
			return nil, badRequest("data.%s is not valid JSON", k)
		}
	}
	return out, nil
}
