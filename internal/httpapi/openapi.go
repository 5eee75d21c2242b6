package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every route in the route table, each status it
// answers with and each error code. The contract tests check real requests
// and responses against it, so that it cannot drift from the handlers.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// Document serves openapi.yaml.
func (s *Server) Document(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(openAPIDocument)
}
