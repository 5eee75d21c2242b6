package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/pgsink"
	"github.com/shortlinks/shortlinks/internal/analytics/redisstream"
	"github.com/shortlinks/shortlinks/internal/analytics/sqlitesink"
	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/web"
)

// maintenanceInterval is how often raw visits past their retention are
// expired and, on PostgreSQL, the next days' partitions made.
const maintenanceInterval = time.Hour

// analyticsPool bounds the connections analytics takes from PostgreSQL:
// the writer (in process, or the worker) and the stats reads. It is a pool
// of its own so that neither can starve the links'.
const analyticsPool = 4

// analyticsStore is what a sink offers: writes and reads.
type analyticsStore interface {
	analytics.Sink
	analytics.Stats
	Expire(ctx context.Context) error
}

// clickPipeline is click analytics as the configuration asks for it:
//
//   - SQLite: the recorder hands batches to a processor writing to the same
//     database, in this process;
//   - PostgreSQL and Redis: the recorder appends batches to a Redis Stream
//     that 'shortlinks worker' reads and writes to PostgreSQL;
//   - PostgreSQL alone: as SQLite, to PostgreSQL, in this process.
//
// Stats are read from the database in every case.
type clickPipeline struct {
	recorder *analytics.Recorder
	stats    analytics.Stats
	stop     context.CancelFunc
	done     sync.WaitGroup
	closers  []func()
}

// newClickPipeline builds and starts click analytics; nil when it is off.
func newClickPipeline(ctx context.Context, cfg config.Config, st *Storage, rdb redis.UniversalClient, reg prometheus.Registerer, log *slog.Logger) (_ *clickPipeline, err error) {
	if !cfg.Analytics {
		return nil, nil
	}
	p := &clickPipeline{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	var sink analyticsStore
	var prepare func(context.Context) error
	// An embedded engine hands its one writer to the in-process sink;
	// any other engine's clicks go to PostgreSQL through their own pool.
	if db, ok := st.Engine.(interface{ Writer() *sql.DB }); ok {
		sq := sqlitesink.New(db.Writer(), sinkOptions(cfg))
		p.closers = append(p.closers, func() { sq.Close() })
		sink = sq
	} else {
		pool, err := analyticsPoolFor(ctx, cfg)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, pool.Close)
		pg := pgsink.New(pool, sinkOptions(cfg))
		sink, prepare = pg, func(ctx context.Context) error { return pg.Prepare(ctx, 2) }
	}
	p.stats = sink

	var pub analytics.Publisher
	inProcess := rdb == nil || st.kind.embedded
	if inProcess {
		proc, closeGeo, err := newProcessor(cfg, sink, reg, log)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, closeGeo)
		pub = proc
	} else {
		pub = redisstream.NewPublisher(rdb, redisstream.PublisherOptions{Prefix: cfg.RedisKeyPrefix})
	}
	p.recorder, err = analytics.NewRecorder(pub, analytics.RecorderOptions{
		Capacity: cfg.AnalyticsBuffer, FlushInterval: cfg.AnalyticsFlushInterval,
		Registerer: reg, Log: log,
	})
	if err != nil {
		return nil, err
	}

	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	p.done.Go(func() { p.recorder.Run(bg) })
	if inProcess {
		p.done.Go(func() { maintain(bg, sink, prepare, log) })
	}
	where := "in process"
	if !inProcess {
		where = "to the Redis stream " + redisstream.Key(cfg.RedisKeyPrefix, "")
	}
	log.Info("click analytics on", "writes", where, "geoip", cfg.GeoIPDB != "", "honor_dnt", cfg.AnalyticsHonorDNT,
		"visits_retention", cfg.AnalyticsVisitRetention.String(), "rollup_retention", cfg.AnalyticsRollupRetention.String())
	return p, nil
}

// sinkOptions are the database sinks' options for cfg.
func sinkOptions(cfg config.Config) analytics.SinkOptions {
	return analytics.SinkOptions{VisitRetention: visitRetention(cfg), RollupRetention: cfg.AnalyticsRollupRetention}
}

// visitRetention is the sinks' VisitRetention for the setting, where 0
// means that no visit is kept, not the sinks' default.
func visitRetention(cfg config.Config) time.Duration {
	if cfg.AnalyticsVisitRetention <= 0 {
		return -1
	}
	return cfg.AnalyticsVisitRetention
}

// analyticsPoolFor opens the pool analytics writes and reads PostgreSQL
// through.
func analyticsPoolFor(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("analytics: database-url %s: %w", config.Mask(cfg.DatabaseURL), err)
	}
	pc.MaxConns = analyticsPool
	pc.ConnConfig.ConnectTimeout = cfg.DatabaseTimeout
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("analytics: connect: %w", err)
	}
	return pool, nil
}

// newProcessor builds the processor that enriches and writes batches, with
// the GeoIP database if one is configured. The returned func closes it.
func newProcessor(cfg config.Config, sink analytics.Sink, reg prometheus.Registerer, log *slog.Logger) (*analytics.Processor, func(), error) {
	opts := analytics.ProcessorOptions{
		AggregatorOptions: analytics.AggregatorOptions{
			HonourDNT: cfg.AnalyticsHonorDNT,
			Visits:    cfg.AnalyticsVisitRetention > 0,
		},
		Registerer: reg, Log: log,
	}
	closeGeo := func() {}
	if cfg.GeoIPDB != "" {
		g, err := analytics.OpenGeoIP(cfg.GeoIPDB)
		if err != nil {
			return nil, nil, fmt.Errorf("geoip-db: %w", err)
		}
		log.Info("geoip database", "path", cfg.GeoIPDB, "type", g.DatabaseType())
		opts.GeoIP = g
		closeGeo = func() { g.Close() }
	}
	proc, err := analytics.NewProcessor(sink, opts)
	if err != nil {
		closeGeo()
		return nil, nil, err
	}
	return proc, closeGeo, nil
}

// maintain expires raw visits past their retention (PostgreSQL drops whole
// day partitions; SQLite deletes in small chunks) once an interval, and
// makes the coming days' partitions, until ctx ends.
func maintain(ctx context.Context, sink analyticsStore, prepare func(context.Context) error, log *slog.Logger) {
	t := time.NewTicker(maintenanceInterval)
	defer t.Stop()
	for {
		if prepare != nil {
			if err := prepare(ctx); err != nil && ctx.Err() == nil {
				log.Warn("analytics: preparing visit partitions", "err", err)
			}
		}
		if err := sink.Expire(ctx); err != nil && ctx.Err() == nil {
			log.Warn("analytics: expiring visits", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops recording, publishes what is buffered (within the recorder's
// shutdown timeout) and releases what the pipeline opened.
func (p *clickPipeline) Close() error {
	if p == nil {
		return nil
	}
	if p.stop != nil {
		p.stop()
	}
	p.done.Wait()
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
	return nil
}

// wireAPI gives the API the recorder, the client's address and the stats,
// when analytics is on.
func (p *clickPipeline) wireAPI(opts *httpapi.Options, cfg config.Config) {
	if p == nil {
		return
	}
	opts.Clicks = p.recorder
	opts.ClientIP = clientIP(cfg)
	opts.Stats = p.stats
}

// statsPages is the stats page of links, when analytics is on.
func (p *clickPipeline) statsPages(links *link.Service, keys *apikey.Service, log *slog.Logger, cfg config.Config) (routes.StatsPages, error) {
	if p == nil {
		return nil, nil
	}
	sp, err := web.NewStatsPages(links, keys, p.stats, log, web.StatsOptions{BaseURL: cfg.BaseURL, Domains: links.Domains()})
	if err != nil {
		return nil, err
	}
	return sp, nil
}

// clientIP is the client's address for analytics, behind the trusted
// proxies, as the edge finds it.
func clientIP(cfg config.Config) func(*http.Request) netip.Addr {
	trusted := cfg.TrustedProxies
	return func(r *http.Request) netip.Addr { return edge.ClientIP(r, trusted) }
}

// tracedProcessor makes each batch a worker applies a span.
type tracedProcessor struct {
	next   redisstream.Processor
	tracer trace.Tracer
}

func (t tracedProcessor) Process(ctx context.Context, batches []*analytics.Batch) error {
	events := 0
	for _, b := range batches {
		events += len(b.Events)
	}
	ctx, span := t.tracer.Start(ctx, "analytics.process", trace.WithAttributes(
		attribute.Int("analytics.batches", len(batches)), attribute.Int("analytics.events", events)))
	defer span.End()
	err := t.next.Process(ctx, batches)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "apply failed")
	}
	return err
}

var errWorkerNeeds = errors.New("the worker needs a PostgreSQL --database-url and a --redis-url: with SQLite, or without Redis, clicks are written by the server itself")

// reader reads click analytics; nil when analytics is off.
func (p *clickPipeline) reader() analytics.Stats {
	if p == nil {
		return nil
	}
	return p.stats
}

// totals reads links' click totals; nil when analytics is off.
func (p *clickPipeline) totals() clickTotals {
	if p == nil {
		return nil
	}
	return p.stats
}
