// Package apptest runs the real Shortlinks service for tests, in this
// process on a loopback port or as the built binary, and talks to it as
// clients do. It is for tests only.
package apptest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
)

// Config is the default configuration on a new SQLite database in a
// temporary directory, as set changes it.
func Config(tb testing.TB, set ...func(*config.Config)) config.Config {
	tb.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite:" + filepath.Join(tb.TempDir(), "links.db")
	for _, f := range set {
		f(&cfg)
	}
	return cfg
}

// Server is the service serving on a loopback port.
type Server struct {
	App *app.App
	URL string // http://127.0.0.1:port, also its base URL

	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// Start serves the service built from Config(t, set...) on a loopback
// port, with log and tel, until the test ends or Stop is called.
func Start(t testing.TB, log *slog.Logger, tel app.Telemetry, set ...func(*config.Config)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := Config(t, append([]func(*config.Config){func(c *config.Config) { c.BaseURL = base }}, set...)...)
	a, err := app.New(t.Context(), cfg, log, tel)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{App: a, URL: base, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return s
}

// Stop begins a graceful shutdown, as SIGTERM does, and waits for it to
// end. Calls after the first return nil at once.
func (s *Server) Stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	s.cancel()
	return <-s.done
}

// Serve runs the service, without rate limits or access logs, until the
// test ends and returns its base URL.
func Serve(t testing.TB, set ...func(*config.Config)) string {
	t.Helper()
	quiet := func(c *config.Config) { c.CreateRate, c.LogRequests = 0, "none" }
	return Start(t, slog.New(slog.DiscardHandler), app.Telemetry{}, append([]func(*config.Config){quiet}, set...)...).URL
}
