package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/idplug/idplug/sdk/connectortest"
)

// TestOpenAPIDescribesTheRealAPI runs the idplug binary and checks its real answers
// against the OpenAPI document it serves: every request the test sends to succeed
// is valid for its operation's requestBody, every response's status is one the operation
// documents, and its body fits that response's schema. Every documented operation
// is called; one announced as planned that the binary does not serve yet (it
// answers not_found) is skipped.
func TestOpenAPIDescribesTheRealAPI(t *testing.T) {
	provider := connectortest.NewProvider(t)
	config := `
listen: 127.0.0.1:0
public_url: http://127.0.0.1:1
plugin_dir: PLUGIN_DIR
session_keys: ["${IDPLUG_SESSION_KEY}"]
api_keys: ["k1-0123456789abcdef0123456789abcdef"]
vault_keys: ["vault-0123456789abcdef0123456789abcdef"]
log_format: json
connectors:
  - id: demo
    plugin: example
    config: {authorizationEndpoint: "https://id.example.test/authorize", clientId: demo-client}
    mapping:
      name: '"Ada " + profile.id'
      claims: {ratio: 'int(raw.?n.orValue(1)) / int(raw.?d.orValue(1))'}
      allow: profile.id != "blocked"
      allow_reason: this account is blocked
  - id: fake
    plugin: oauth2
    name: {en: Fake}
    config:
      authorizationEndpoint: ` + provider.AuthorizationEndpoint() + `
      tokenEndpoint: ` + provider.TokenEndpoint() + `
      userInfoEndpoint: ` + provider.UserInfoEndpoint() + `
      clientId: ` + provider.ClientID() + `
      clientSecret: ` + provider.ClientSecret() + `
      tokenEndpointAuthMethod: client_secret_basic
      storeTokens: true
`
	p := startIdplug(t, pluginFolder(t, "example", "oauth2"), config)
	const key = "k1-0123456789abcdef0123456789abcdef"
	v := newAPIValidator(t, p, key)

	v.call(t, "GET", "/v1/connectors", nil, key, nil, 200)
	v.call(t, "GET", "/v1/connectors", nil, "", nil, 401)
	v.call(t, "GET", "/v1/connectors/{id}", []string{"fake"}, key, nil, 200)
	v.call(t, "GET", "/v1/connectors/{id}", []string{"demo"}, key, nil, 200)
	v.call(t, "GET", "/v1/connectors/{id}", []string{"nope"}, key, nil, 404)

	authPath := "/v1/connectors/{id}/authorization-uri"
	auth := v.call(t, "POST", authPath, []string{"fake"}, key, map[string]any{"redirectUri": "https://app.test/cb"}, 200)
	v.call(t, "POST", authPath, []string{"fake"}, key, map[string]any{"redirectUri": "https://app.test/cb", "state": "s-1"}, 200)
	v.call(t, "POST", authPath, []string{"fake"}, key, map[string]any{}, 400)
	v.call(t, "POST", authPath, []string{"fake"}, key, []byte(`{"redirectUri":"`+strings.Repeat("a", 70000)+`"}`), 413)
	v.call(t, "POST", authPath, []string{"nope"}, key, map[string]any{"redirectUri": "https://app.test/cb"}, 404)

	callback, err := provider.Authorize(auth["redirectTo"].(string))
	if err != nil {
		t.Fatal(err)
	}
	infoPath := "/v1/connectors/{id}/user-info"
	info := v.call(t, "POST", infoPath, []string{"fake"}, key, map[string]any{"session": auth["session"], "data": callback}, 200)
	tokens, _ := info["tokens"].(map[string]any)
	if tokens == nil || tokens["refreshToken"] == nil {
		t.Fatalf("user-info with storeTokens returned no refresh token: %v", info)
	}
	v.call(t, "POST", infoPath, []string{"fake"}, key, map[string]any{"session": "%%%", "data": map[string]any{}}, 400)
	demoAuth := v.call(t, "POST", authPath, []string{"demo"}, key, map[string]any{"redirectUri": "https://app.test/cb"}, 200)
	v.call(t, "POST", infoPath, []string{"demo"}, key, map[string]any{"session": demoAuth["session"], "data": map[string]any{"code": "ada", "state": demoAuth["state"], "n": 1, "b": true, "x": nil}}, 200)
	v.call(t, "POST", infoPath, []string{"demo"}, key, map[string]any{"session": demoAuth["session"], "data": map[string]any{"code": "ada", "state": demoAuth["state"]}}, 400) // session_used
	denied := v.call(t, "POST", authPath, []string{"demo"}, key, map[string]any{"redirectUri": "https://app.test/cb"}, 200)
	v.call(t, "POST", infoPath, []string{"demo"}, key, map[string]any{"session": denied["session"], "data": map[string]any{"error": "access_denied", "state": denied["state"]}}, 401)

	refreshPath := "/v1/connectors/{id}/refresh"
	v.call(t, "POST", refreshPath, []string{"fake"}, key, map[string]any{"refreshToken": tokens["refreshToken"]}, 200)
	v.call(t, "POST", refreshPath, []string{"fake"}, key, map[string]any{"refreshToken": "unknown-refresh-token"}, 401)
	v.call(t, "POST", refreshPath, []string{"demo"}, key, map[string]any{"refreshToken": "rt"}, 501)
	v.call(t, "POST", refreshPath, []string{"fake"}, key, map[string]any{}, 400)

	vault := "/v1/connectors/{id}/users/{userId}/tokens"
	v.call(t, "GET", vault, []string{"fake", "connectortest-user-1"}, key, nil, 200)
	v.call(t, "DELETE", vault, []string{"fake", "connectortest-user-1"}, key, nil, 200)
	v.call(t, "GET", vault, []string{"fake", "connectortest-user-1"}, key, nil, 404)
	v.call(t, "GET", vault, []string{"demo", "ada"}, key, nil, 404)

	mappingPath := "/v1/connectors/{id}/mapping/test"
	mapped := v.call(t, "POST", mappingPath, []string{"demo"}, key, map[string]any{"profile": map[string]any{"id": "ada"}, "raw": map[string]any{"n": 4, "d": 2}}, 200)
	if mapped["userInfo"].(map[string]any)["name"] != "Ada ada" || mapped["claims"].(map[string]any)["ratio"] != float64(2) {
		t.Fatalf("mapping test = %v", mapped)
	}
	v.call(t, "POST", mappingPath, []string{"demo"}, key, map[string]any{"profile": map[string]any{"id": "blocked"}}, 401)
	v.call(t, "POST", mappingPath, []string{"demo"}, key, map[string]any{"profile": map[string]any{"id": "ada"}, "raw": map[string]any{"d": 0}}, 500)
	v.call(t, "POST", mappingPath, []string{"demo"}, key, map[string]any{"profile": map[string]any{"name": "no id"}}, 400)
	v.call(t, "POST", mappingPath, []string{"nope"}, key, map[string]any{"profile": map[string]any{"id": "ada"}}, 404)
	v.call(t, "POST", mappingPath, []string{"demo"}, "", map[string]any{"profile": map[string]any{"id": "ada"}}, 401)

	v.call(t, "POST", "/v1/admin/reload", nil, key, nil, 200)
	v.call(t, "GET", "/v1/openapi.json", nil, key, nil, 200)
	v.call(t, "GET", "/healthz", nil, "", nil, 200)
	v.call(t, "GET", "/readyz", nil, "", nil, 200)
	v.call(t, "GET", "/readyz?exclude=plugins&exclude=store", nil, "", nil, 200)
	v.call(t, "GET", "/readyz?exclude=disks", nil, "", nil, 400)
	v.call(t, "GET", "/metrics", nil, "", nil, 200)
	v.call(t, "GET", "/user", nil, "", nil, 200)

	v.everyOperationCalled(t)
}

// apiValidator checks requests and responses against the OpenAPI document.
type apiValidator struct {
	p        *idplugProc
	doc      map[string]any
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
	called   map[string]bool
}

const openAPIURL = "https://idplug.test/openapi.json"

func newAPIValidator(t *testing.T, p *idplugProc, apiKey string) *apiValidator {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", p.URL+"/v1/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if apiKey == "" {
		apiKey = p.apiKey
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/openapi.json: %d %v", resp.StatusCode, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(openAPIURL, doc); err != nil {
		t.Fatal(err)
	}
	m, _ := doc.(map[string]any)
	if m["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", m["openapi"])
	}
	return &apiValidator{p: p, doc: m, compiler: c, schemas: map[string]*jsonschema.Schema{}, called: map[string]bool{}}
}

// operation returns the document's operation for method and path template.
func (v *apiValidator) operation(method, template string) map[string]any {
	paths, _ := v.doc["paths"].(map[string]any)
	item, _ := paths[template].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	return op
}

// schema compiles the schema at a JSON pointer into the document.
func (v *apiValidator) schema(t *testing.T, pointer ...string) *jsonschema.Schema {
	t.Helper()
	for i, p := range pointer {
		pointer[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	loc := openAPIURL + "#/" + strings.Join(pointer, "/")
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.schemas[loc]; ok {
		return s
	}
	s, err := v.compiler.Compile(loc)
	if err != nil {
		t.Fatalf("compiling %s: %v", loc, err)
	}
	v.schemas[loc] = s
	return s
}

// call sends one request to the operation (method, template) with the path's
// parameters, checks the request body and the answer against the document, and
// returns the answer's JSON object. want is the status the test expects; 0 marks a
// planned operation, skipped when the binary does not serve it yet.
func (v *apiValidator) call(t *testing.T, method, template string, params []string, apiKey string, body any, want int) map[string]any {
	t.Helper()
	template, query, _ := strings.Cut(template, "?") // a query goes as it is
	op := v.operation(method, template)
	if op == nil {
		t.Fatalf("the OpenAPI document has no operation %s %s", method, template)
	}
	v.mu.Lock()
	v.called[method+" "+template] = true
	v.mu.Unlock()

	path := template
	for _, p := range params {
		i, j := strings.Index(path, "{"), strings.Index(path, "}")
		path = path[:i] + url.PathEscape(p) + path[j+1:]
	}
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
		if _, ok := op["requestBody"]; !ok {
			t.Fatalf("%s %s has no requestBody in the document, but the test sends one", method, template)
		}
		// A request meant to succeed must fit the document; the others are wrong on purpose.
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if want/100 != 2 && want != 0 {
			break
		}
		if err := v.schema(t, "paths", template, strings.ToLower(method), "requestBody", "content", "application/json", "schema").Validate(inst); err != nil {
			t.Errorf("%s %s: the test's request %s does not fit the document: %v", method, path, raw, err)
		}
	}
	if query != "" {
		path += "?" + query
	}
	req, err := http.NewRequestWithContext(t.Context(), method, v.p.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	if want == 0 {
		var e struct{ Code string }
		if resp.StatusCode == 404 && json.Unmarshal(data, &e) == nil && e.Code == "not_found" {
			t.Logf("%s %s: planned, not served yet", method, template)
			return nil
		}
	} else if resp.StatusCode != want {
		t.Fatalf("%s %s answered %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}

	responses, _ := op["responses"].(map[string]any)
	status := strconv.Itoa(resp.StatusCode)
	if _, ok := responses[status]; !ok {
		status = "default"
		if _, ok := responses[status]; !ok {
			t.Errorf("%s %s answered %d, which the document does not list for the operation", method, template, resp.StatusCode)
			return nil
		}
	}
	response, _ := responses[status].(map[string]any)
	content, _ := response["content"].(map[string]any)
	mediaType, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	if len(content) == 0 {
		if len(data) > 0 {
			t.Errorf("%s %s answered %d with a body, which the document does not describe", method, template, resp.StatusCode)
		}
		return nil
	}
	if _, ok := content[mediaType]; !ok {
		t.Errorf("%s %s answered %d as %q; the document gives %v", method, template, resp.StatusCode, mediaType, keys(content))
		return nil
	}
	if mediaType != "application/json" {
		return nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Errorf("%s %s: the answer is not JSON: %s", method, path, data)
		return nil
	}
	if err := v.schema(t, "paths", template, strings.ToLower(method), "responses", status, "content", "application/json", "schema").Validate(inst); err != nil {
		t.Errorf("%s %s answered %d with a body the document does not allow:\n%s\n%v", method, path, resp.StatusCode, data, err)
	}
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}

// everyOperationCalled fails for each documented operation the test did not call.
func (v *apiValidator) everyOperationCalled(t *testing.T) {
	t.Helper()
	paths, _ := v.doc["paths"].(map[string]any)
	for _, template := range keys(paths) {
		item, _ := paths[template].(map[string]any)
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			if _, ok := item[method]; ok && !v.called[strings.ToUpper(method)+" "+template] {
				t.Errorf("the test never calls %s %s: add a request for it", strings.ToUpper(method), template)
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
