package server

import (
	_ "embed"
	"net/http"
)

// openAPI describes every /v1 route, its requests, responses and error codes
// (OpenAPI 3.1). Tests check real responses of the idplug binary against it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI document served at /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// openAPIDocument serves the document, behind the API key as every /v1 route is.
func (s *Server) openAPIDocument(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write(openAPI)
}
