// Package app builds Shortlinks from its configuration: it is the one place
// that picks implementations, wires them together and runs them.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/cache"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// App is a configured Shortlinks server.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	db      Engine
	links   *link.Service
	keys    *apikey.Service
	handler http.Handler
	closers []func() error
}

// New builds the service from cfg. It opens and prepares storage but does
// not listen yet.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, reg *prometheus.Registry) (_ *App, err error) {
	if reg == nil {
		reg = telemetry.NewRegistry()
	}
	a := &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	db, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.db = db
	a.closers = append(a.closers, db.Close)
	if err := prepareSchema(ctx, cfg, db); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}

	perm, err := codeKey(ctx, cfg, db)
	if err != nil {
		return nil, err
	}
	gen := shortcode.NewGenerator(perm, db, shortcode.DefaultBlock)

	cached, err := cache.New(db, cache.Options{Size: cfg.CacheSize, TTL: cfg.CacheTTL, NegativeTTL: cfg.CacheNegativeTTL})
	if err != nil {
		return nil, err
	}
	registerCacheMetrics(reg, cached)

	a.links = link.NewService(cached, db, gen, link.Options{
		URLRules: link.URLRules{MaxLength: cfg.MaxURLLength, SelfHosts: selfHosts(cfg)},
		Reserved: httpapi.ReservedPaths(),
	})
	a.keys = apikey.NewService(db)

	var limiter httpapi.Limiter
	if cfg.CreateRate > 0 {
		limiter = ratelimit.NewLocal(ratelimit.Limit{Rate: cfg.CreateRate, Burst: cfg.CreateBurst})
	}

	srv := httpapi.New(a.links, a.keys, limiter, log, httpapi.Options{
		BaseURL:        cfg.BaseURL,
		RedirectStatus: cfg.RedirectStatus,
		CacheControl:   cfg.CacheControl,
		RequireAPIKey:  cfg.RequireAPIKey,
		TrustedProxies: cfg.TrustedProxies,
		LogRequests:    cfg.LogRequests,
		Checks: []httpapi.Check{
			{Name: "database", Critical: true, Run: db.Ping},
		},
		Registerer: reg,
		Metrics:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
	})
	a.handler = srv.Handler()
	return a, nil
}

// codeKey returns the permutation for generated codes. A configured key must
// match the one the database was first used with, since changing it would
// reshuffle which codes future ids get.
func codeKey(ctx context.Context, cfg config.Config, db Engine) (*shortcode.Permutation, error) {
	var key []byte
	if cfg.CodeKey != "" {
		k, err := shortcode.ParseKey(cfg.CodeKey)
		if err != nil {
			return nil, err
		}
		key = k
	} else {
		fresh := make([]byte, shortcode.KeyLength)
		rand.Read(fresh)
		stored, err := db.Setting(ctx, "code_key", hex.EncodeToString(fresh))
		if err != nil {
			return nil, fmt.Errorf("code key: %w", err)
		}
		if key, err = shortcode.ParseKey(stored); err != nil {
			return nil, fmt.Errorf("stored code key: %w", err)
		}
	}
	fp := shortcode.Fingerprint(key)
	stored, err := db.Setting(ctx, "code_key_fingerprint", fp)
	if err != nil {
		return nil, fmt.Errorf("code key: %w", err)
	}
	if stored != fp {
		return nil, errors.New("code-key differs from the key this database was first used with; give that key again")
	}
	return shortcode.NewPermutation(key)
}

// selfHosts are the hosts whose links would point back at this service.
func selfHosts(cfg config.Config) []string {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil
	}
	return []string{u.Hostname()}
}

func registerCacheMetrics(reg prometheus.Registerer, c *cache.Store) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shortlinks_cache_hits_total", Help: "In-process cache hits."},
			func() float64 { return float64(c.Stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shortlinks_cache_misses_total", Help: "In-process cache misses."},
			func() float64 { return float64(c.Stats().Misses) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shortlinks_cache_evictions_total", Help: "In-process cache evictions."},
			func() float64 { return float64(c.Stats().Evictions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shortlinks_cache_entries", Help: "Links held in the in-process cache."},
			func() float64 { return float64(c.Len()) }),
	)
}

// Handler is the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Keys is the API key service, for the CLI's key commands.
func (a *App) Keys() *apikey.Service { return a.keys }

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully:
// it stops accepting, lets requests in flight finish within the shutdown
// timeout, and returns.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("serving", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Run listens on the configured address and serves until ctx ends.
func (a *App) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return a.Serve(ctx, ln)
}

// Close releases storage and other resources, in reverse order of opening.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
