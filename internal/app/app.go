// Package app builds Shortlinks from its configuration: it is the one place
// that picks implementations, wires them together and runs them.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/cache"
	"github.com/shortlinks/shortlinks/internal/compat/yourls"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/importjob"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/liveconfig"
	"github.com/shortlinks/shortlinks/internal/password"
	"github.com/shortlinks/shortlinks/internal/qr"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/telemetry"
	"github.com/shortlinks/shortlinks/internal/web"
)

// App is a configured Shortlinks server.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	links   *link.Service
	keys    *apikey.Service
	audit   *audit.Log
	srv     *httpapi.Server
	handler http.Handler
	metrics http.Handler
	closers []func() error

	// What the live settings change (Apply), and what keeps them current.
	edge     *edge.Edge
	limiter  liveLimiter
	logLevel *slog.LevelVar
	registry prometheus.Registerer
	watcher  *liveconfig.Watcher

	// workers run in the background while the app serves, each until its
	// context ends: list reloads, Safe Browsing lookups.
	workers []func(context.Context) error

	accounts *accounts // the users who sign in to the dashboard
}

// liveLimiter is a rate limiter whose limit changes while it serves.
type liveLimiter interface {
	routes.Limiter
	SetLimit(ratelimit.Limit)
}

// Telemetry is where the service reports, beyond its log. The zero value
// gives a registry of its own, no traces and no error reports.
type Telemetry struct {
	// Environ is the process environment, as KEY=VALUE pairs: its OTEL_*
	// variables turn traces on and SENTRY_DSN error reports. New starts
	// them and Close flushes them.
	Environ []string
	// Build identifies the binary in metrics, traces and error reports;
	// zero: telemetry.ReadBuild("").
	Build telemetry.Build

	// Set, these are used instead of what Environ asks for.
	Registry *prometheus.Registry
	Tracer   trace.TracerProvider
	Errors   *telemetry.ErrorReporter

	// LogLevel, when set, is the level of the logger New is given, for
	// live reloads of log-level to change.
	LogLevel *slog.LevelVar
}

// New builds the service from cfg. It opens and prepares storage but does
// not listen yet.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, tel Telemetry) (_ *App, err error) {
	a := &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if tel, err = a.startTelemetry(ctx, tel); err != nil {
		return nil, err
	}
	reg := tel.Registry
	a.registry, a.logLevel = reg, tel.LogLevel

	st, err := OpenStorage(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.closers = append(a.closers, st.Close)
	if err := reg.Register(telemetry.NewDBCollector(st.pools)); err != nil {
		return nil, fmt.Errorf("database metrics: %w", err)
	}
	if err := st.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	db := st.Engine

	perm, err := st.CodeKey(ctx)
	if err != nil {
		return nil, err
	}
	gen := shortcode.NewGenerator(perm, db, shortcode.DefaultBlock)

	rdb, err := openRedis(cfg, log, reg, tel.Tracer)
	if err != nil {
		return nil, err
	}
	if rdb != nil {
		a.closers = append(a.closers, rdb.Close)
	}
	// With tracing on, each tier's calls are spans: the cache as the
	// service sees it, and the database beneath it.
	var below link.Store = db
	var lister link.Lister = db
	if tel.Tracer != nil {
		system := attribute.String("db.system", st.kind.system)
		below = telemetry.TraceStore(db, tel.Tracer, "database", system)
		lister = telemetry.TraceLister(db, tel.Tracer, "database", system)
	}
	// Domains come before the cache, which carries news of their changes
	// between instances.
	domains, err := st.Domains(ctx, log)
	if err != nil {
		return nil, err
	}
	domains.SetReloadEvery(cfg.DomainReloadInterval)
	a.workers = append(a.workers, domains.Run)
	cached, err := cache.New(below, cache.Options{
		// One SQLite process makes every edit itself; instances sharing
		// Redis tell each other of theirs.
		Size: cfg.CacheSize, TTL: cfg.LinkCacheTTL(st.kind.embedded || rdb != nil), NegativeTTL: cfg.CacheNegativeTTL,
		Redis: rdb, RedisTTL: cfg.CacheRedisTTL, Prefix: cfg.RedisKeyPrefix, Timeout: cfg.RedisTimeout,
		Registerer: reg, Log: log, TraceTiers: tel.Tracer != nil,
		Editor: db, DomainsChanged: domains.Changed,
	})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, cached.Close)
	domains.OnChange(cached.AnnounceDomains)

	var store link.Store = cached
	if tel.Tracer != nil {
		store = telemetry.TraceStore(cached, tel.Tracer, "cache")
	}
	// Link passwords are hashed as account passwords are; the hasher
	// bounds how many hashes run at once.
	linkPasswords, err := password.New(password.Default, 0)
	if err != nil {
		return nil, err
	}
	screens, err := newScreening(cfg, log, reg)
	if err != nil {
		return nil, err
	}
	a.workers = append(a.workers, screens.workers()...)
	linkOpts := link.Options{
		URLRules: LinkRules(cfg),
		Reserved: routes.ReservedPaths(),
		// Edits go through the cache, which tells every instance.
		Editor:       cached,
		HashPassword: linkPasswords.Hash,
	}
	linkOptions(&linkOpts, db, linkPasswords)
	if err := linkOpts.URLRules.Validate(); err != nil {
		return nil, fmt.Errorf("shortener-hosts: %w", err)
	}
	screens.linkOptions(&linkOpts)
	linkOpts.Domains, linkOpts.UserDomains = domains, st.userDomains()
	a.links = link.NewService(store, lister, gen, linkOpts)
	a.audit = st.Audit(log)
	// Links a list update or a verdict turns against are disabled through
	// the cache, which tells every instance.
	screens.disabler = newStoreDisabler(lister, cached, a.audit, reg)
	a.keys = st.keys(log)
	if a.accounts, err = openAccounts(ctx, cfg, st, rdb, log); err != nil {
		return nil, err
	}

	// A limiter even at rate 0 (no limit), so that a reload can set one.
	if a.limiter, err = newLimiter(cfg, rdb, reg); err != nil {
		return nil, err
	}

	clicks, err := newClickPipeline(ctx, cfg, st, rdb, reg, log)
	if err != nil {
		return nil, fmt.Errorf("analytics: %w", err)
	}
	// Closed before storage and Redis, so that the last clicks are written.
	a.closers = append(a.closers, clicks.Close)

	keyLimit, err := keyLimiter(cfg, rdb)
	if err != nil {
		return nil, err
	}

	reports := st.Reports(a.links, log)
	reportLimit, err := limiterFor(cfg, rdb, cfg.ReportRate, cfg.ReportBurst)
	if err != nil {
		return nil, err
	}

	// QR images are limited in process even with Redis: what the limit
	// protects is this instance's CPU, which drawing them spends.
	var qrLimiter routes.Limiter
	if cfg.QRRate > 0 {
		qrLimiter = ratelimit.NewLocal(ratelimit.Limit{Rate: cfg.QRRate, Burst: cfg.QRBurst})
	}

	pages, err := web.New(a.links, log, web.Options{BaseURL: cfg.BaseURL, RequireAPIKey: cfg.RequireAPIKey, QRURL: routes.QRURL,
		Resolver: a.links, Reports: reports, Domains: domains})
	if err != nil {
		return nil, err
	}
	// The API, the redirect and the page answer failures alike, through
	// one renderer; the route table mounts them side by side, and the
	// edge is what every request passes through.
	errs := edge.NewRenderer(log, pages, routes.APIPrefix)
	checks := append(st.checks(), redisChecks(rdb, cached)...)
	// Imports from the dashboard and the API run as background jobs, one
	// at a time, never within the request that starts them.
	imports := importjob.New(dashImports{st: st, domains: domains, screen: linkOpts.Screen, unsafe: safeBrowsingLookup(cfg)}.Run, log)
	a.workers = append(a.workers, imports.Run)
	apiOpts := httpapi.Options{
		BaseURL:        cfg.BaseURL,
		RedirectStatus: cfg.RedirectStatus,
		CacheControl:   cfg.CacheControl,
		RequireAPIKey:  cfg.RequireAPIKey,
		Checks:         checks,
		QR:             qr.New(),
		Errors:         errs,
		Registerer:     reg,
		KeyLimiter:     keyLimit,
		Audit:          a.audit,
		Reports:        reports,
		Domains:        domains,
		Imports:        imports,
	}

	edgeOpts := edge.Options{
		TrustedProxies: cfg.TrustedProxies,
		LogRequests:    cfg.LogRequests,
		SampledRoute:   routes.RedirectRoute,
		RedirectSample: cfg.LogRedirectSample,
		Registerer:     reg,
		Tracer:         tel.Tracer,
		Propagator:     telemetry.Propagator(),
	}
	if strings.HasPrefix(cfg.BaseURL, "https://") {
		// Served over https: browsers should never try plain http again.
		edgeOpts.HSTS = "max-age=31536000"
	}
	if tel.Errors != nil {
		edgeOpts.Errors = tel.Errors
	}
	pipeline := edge.New(log, edgeOpts)
	a.edge = pipeline
	apiOpts.Host = pipeline.Host
	if err := a.redirectOptions(&apiOpts, pages, cfg); err != nil {
		return nil, err
	}
	clicks.wireAPI(&apiOpts, cfg)
	a.srv = httpapi.New(auditedLinks{a.links, a.audit}, a.keys, log, apiOpts)
	a.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	routeOpts := routes.Options{Pages: pages, Errors: errs, Limiter: a.limiter, Reports: reportLimit, ClientIP: pipeline.ClientIP, Registerer: reg,
		BodyTimeout: cfg.ReadTimeout, QRLimiter: qrLimiter, IPv6Prefix: cfg.IPv6Prefix,
		Domains: domains, Host: pipeline.Host}
	if routeOpts.Passwords, err = passwordLimiter(cfg, rdb); err != nil {
		return nil, err
	}
	counts, _ := db.(link.DomainCounter)
	if routeOpts.Dashboard, err = a.dashboard(pages, pipeline.ClientIP, clicks.totals(), imports, domains, counts); err != nil {
		return nil, err
	}
	if routeOpts.StatsPages, err = clicks.statsPages(a.links, a.keys, log, cfg); err != nil {
		return nil, err
	}
	if cfg.MetricsListen == "" {
		routeOpts.Metrics = a.metrics
	}
	if slices.Contains(cfg.Compat, "yourls") {
		routeOpts.YOURLS = yourls.New(a.links, a.keys, yourls.Options{
			BaseURL: cfg.BaseURL, ClientIP: pipeline.ClientIP, Log: log, Counts: compatCounts{db: db, clicks: clicks.totals()},
			Users: accountSignIn{a.accounts.users},
		})
	}
	if slices.Contains(cfg.Compat, "shlink") {
		routeOpts.Shlink = a.shlinkAPI(cfg, log, checks, keyLimit, clicks.reader())
	}
	a.handler = pipeline.Wrap(routes.New(a.srv, log, routeOpts))
	return a, nil
}

// selfHosts are the hosts whose links would point back at this service. A
// loopback host names this service only on its own port.
// LinkRules are the rules every destination is held to under cfg, by
// creates and by imports alike.
func LinkRules(cfg config.Config) link.URLRules {
	return link.URLRules{MaxLength: cfg.MaxURLLength, SelfHosts: selfHosts(cfg),
		ShortenerHosts: append(link.DefaultShortenerHosts(), cfg.ShortenerHosts...)}
}

func selfHosts(cfg config.Config) []string {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		return []string{net.JoinHostPort("localhost", port), net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}
	}
	return []string{host}
}

// openRedis returns the Redis client cfg asks for, or nil without one.
func openRedis(cfg config.Config, log *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (redis.UniversalClient, error) {
	if cfg.RedisURL == "" {
		return nil, nil
	}
	rdb, err := redisconn.Open(cfg.RedisURL, redisconn.Options{Timeout: cfg.RedisTimeout, Registerer: reg, Log: log, Tracer: tp})
	if err != nil {
		return nil, fmt.Errorf("redis-url %s: %w", config.Mask(cfg.RedisURL), err)
	}
	return rdb, nil
}

// newLimiter rations creation in Redis, shared by every instance, when
// there is one, and in process otherwise.
func newLimiter(cfg config.Config, rdb redis.UniversalClient, reg prometheus.Registerer) (liveLimiter, error) {
	l := ratelimit.Limit{Rate: cfg.CreateRate, Burst: cfg.CreateBurst}
	if rdb == nil {
		return ratelimit.NewLocal(l), nil
	}
	return ratelimit.NewShared(rdb, l, ratelimit.SharedOptions{Prefix: cfg.RedisKeyPrefix, Timeout: cfg.RedisTimeout, Registerer: reg})
}

// redisChecks reports Redis on /readyz as non-critical: without it an
// instance still serves redirects from its own tier and the database.
func redisChecks(rdb redis.UniversalClient, cached *cache.Store) []httpapi.Check {
	if rdb == nil {
		return nil
	}
	return []httpapi.Check{{Name: "redis", Critical: false, Run: func(ctx context.Context) error {
		if err := rdb.Ping(ctx).Err(); err != nil {
			return err
		}
		if !cached.Subscribed() {
			return errors.New("not subscribed to cache invalidations")
		}
		return nil
	}}}
}

// Watch has w keep the configuration current while the app runs: Run
// starts it and Apply puts each reload's live settings in place. w must
// have been started (Start) and is the source of the configuration New
// was given.
func (a *App) Watch(w *liveconfig.Watcher) error {
	if err := w.Register(a.registry); err != nil {
		return err
	}
	a.watcher = w
	return nil
}

// Apply puts the live settings of cfg in place, each with one atomic
// store that requests read: redirect status and Cache-Control, which
// requests are logged, the log level and the rate limit. The other
// settings of cfg are ignored.
func (a *App) Apply(cfg config.Config) {
	a.srv.SetRedirect(cfg.RedirectStatus, cfg.CacheControl)
	a.edge.SetLogging(cfg.LogRequests, cfg.LogRedirectSample)
	if a.logLevel != nil {
		telemetry.SetLevel(a.logLevel, cfg.LogLevel)
	}
	a.limiter.SetLimit(ratelimit.Limit{Rate: cfg.CreateRate, Burst: cfg.CreateBurst})
}

// Handler is the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Audit is the audit log.
func (a *App) Audit() *audit.Log { return a.audit }

// Keys is the API key service.
func (a *App) Keys() *apikey.Service { return a.keys }

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully:
// it stops accepting, lets requests in flight finish within the shutdown
// timeout, and returns.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: a.handler,
		// Every request, whatever its route, is answered or its connection
		// closed within the read timeout: a body that is declared but never
		// sent would otherwise hold the connection for good, since the
		// server reads what a handler left unread before it answers. This
		// costs a redirect nothing: the server sets the connection's read
		// deadline for the headers either way, and with ReadTimeout it moves
		// it rather than clearing it.
		ReadHeaderTimeout: a.headerTimeout(),
		ReadTimeout:       a.cfg.ReadTimeout,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	// Background work outlives the listener, so that what requests in
	// flight hand it is still done, and stops once they have finished.
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	defer func() {
		stopWorkers()
		workers.Wait()
	}()
	for _, run := range a.workers {
		workers.Go(func() {
			if err := run(wctx); err != nil {
				a.log.Error("background work stopped", "err", err)
			}
		})
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	jctx, stopJanitor := context.WithCancel(context.WithoutCancel(ctx))
	waitJanitor := a.runJanitor(jctx)
	defer func() { stopJanitor(); waitJanitor() }()

	a.log.Info("serving", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Not ready from now on; still serving while load balancers notice.
	a.srv.Drain()
	if d := a.cfg.DrainDelay; d > 0 {
		a.log.Info("draining", "delay", d.String())
		time.Sleep(d)
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

// maxHeaderTimeout bounds how long a client may take to send headers.
const maxHeaderTimeout = 5 * time.Second

// headerTimeout is the deadline for a request's headers: maxHeaderTimeout,
// or the whole request's if that is shorter.
func (a *App) headerTimeout() time.Duration {
	if t := a.cfg.ReadTimeout; t > 0 && t < maxHeaderTimeout {
		return t
	}
	return maxHeaderTimeout
}

// Run listens on the configured address and serves until ctx ends.
func (a *App) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if a.cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", a.cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics)
		go serveAside(ctx, mln, mux, "metrics", a.log)
	}
	if a.cfg.DebugListen != "" {
		dln, err := net.Listen("tcp", a.cfg.DebugListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("debug-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go serveAside(ctx, dln, mux, "profiles", a.log)
	}
	if a.watcher == nil {
		return a.Serve(ctx, ln)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.watcher.Run(wctx, a.log, a.Apply) }()
	err = a.Serve(ctx, ln)
	stop()
	return errors.Join(err, <-done)
}

// serveAside serves what on its own listener, apart from the public
// routes, until ctx ends.
func serveAside(ctx context.Context, ln net.Listener, h http.Handler, what string, log *slog.Logger) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 20 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("serving "+what, "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn(what+" listener stopped", "err", err)
	}
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
