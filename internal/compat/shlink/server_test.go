package shlink_test

import (
	"log/slog"
	"testing"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
)

// server is a running Shortlinks server, built by app.New over SQLite
// with the Shlink-compatible API on.
type server struct {
	url string
	app *app.App
}

// startServer serves the whole service on a loopback port until the test
// ends, without rate limits or access logs unless set says otherwise.
func startServer(t *testing.T, set ...func(*config.Config)) *server {
	t.Helper()
	base := func(c *config.Config) { c.Compat, c.CreateRate, c.LogRequests = []string{"shlink"}, 0, "none" }
	s := apptest.Start(t, slog.New(slog.NewTextHandler(t.Output(), nil)), app.Telemetry{}, append([]func(*config.Config){base}, set...)...)
	return &server{url: s.URL, app: s.App}
}

// key makes an API key and returns its token.
func (s *server) key(t *testing.T, name string, admin bool) string {
	t.Helper()
	_, token, err := s.app.Keys().Create(t.Context(), name, admin)
	if err != nil {
		t.Fatalf("create key %s: %v", name, err)
	}
	return token
}
