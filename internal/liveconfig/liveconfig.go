// Package liveconfig reloads the server's configuration while it serves:
// when the config file changes, on SIGHUP, and when a key under a prefix in
// etcd changes (watched, not polled). Each reload reads every source again
// (config.LoadOver); the settings marked Live are handed to the service to
// apply, and every other setting that changed is logged as needing a
// restart. A reload that fails changes nothing.
package liveconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/shortlinks/shortlinks/internal/config"
)

// DefaultInterval is how often the config file is checked for a change.
const DefaultInterval = time.Second

// Options configure a Watcher.
type Options struct {
	// Load reads every source but etcd, with over (etcd's settings, by
	// name) winning over them: config.LoadOver with the command's flags
	// and environment.
	Load func(over map[string]string) (config.Config, error)
	// File is the config file to watch; empty: none.
	File string
	// Interval is how often File is checked; zero: DefaultInterval.
	Interval time.Duration
	// Signals delivers the signals that ask for a reload (SIGHUP); nil:
	// none.
	Signals <-chan os.Signal
}

// Watcher keeps the configuration current.
type Watcher struct {
	opts  Options
	log   *slog.Logger
	apply func(config.Config)

	mu      sync.Mutex // serializes reloads; guards running, over
	running config.Config
	over    map[string]string // etcd's settings, by name
	etcd    *clientv3.Client
	etcdErr error // why Start went without etcd's settings

	cur        atomic.Pointer[config.Config]
	generation prometheus.Gauge
	errors     prometheus.Counter
	pending    prometheus.Gauge
}

// New returns a Watcher. Start loads the configuration to serve with.
func New(opts Options) *Watcher {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	return &Watcher{
		opts: opts,
		log:  slog.New(slog.DiscardHandler),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shortlinks_config_generation",
			Help: "The configuration in use: 1 at start, one more for each reload that applied a change.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_config_reload_errors_total",
			Help: "Configuration reloads refused (an invalid value, an unreadable file, etcd unreachable); the running configuration stayed.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shortlinks_config_restart_pending",
			Help: "Settings changed in the sources that are not live: they take effect at the next restart.",
		}),
	}
}

// Start loads the configuration, with the settings kept in etcd when it
// names etcd endpoints (config-etcd), and returns it. The server starts
// with it; Run keeps it current.
func (w *Watcher) Start(ctx context.Context) (config.Config, error) {
	cfg, err := w.opts.Load(nil)
	if err != nil {
		return config.Config{}, err
	}
	if len(cfg.ConfigEtcd) > 0 {
		w.etcd, err = clientv3.New(clientv3.Config{
			Endpoints:   cfg.ConfigEtcd,
			DialTimeout: 5 * time.Second,
			Context:     ctx,
			Logger:      zap.NewNop(),
		})
		if err != nil {
			return config.Config{}, fmt.Errorf("config-etcd: %w", err)
		}
		// Unreachable, etcd does not keep the server from starting on its
		// other sources: Run applies etcd's settings once it answers.
		over, _, err := w.readEtcd(ctx, cfg.ConfigEtcdPrefix)
		if err != nil {
			w.errors.Inc()
			w.etcdErr = err
			over = map[string]string{}
		}
		w.over = over
		if cfg, err = w.opts.Load(over); err != nil {
			w.etcd.Close()
			return config.Config{}, err
		}
	}
	w.running = cfg
	w.cur.Store(&cfg)
	w.generation.Set(1)
	return cfg, nil
}

// Register adds the watcher's metrics to reg.
func (w *Watcher) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{w.generation, w.errors, w.pending} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("config metrics: %w", err)
		}
	}
	return nil
}

// Current returns the configuration in use: what the server started with,
// with the live settings of the last reload.
func (w *Watcher) Current() config.Config { return *w.cur.Load() }

// Run watches the sources and reloads on every change until ctx ends,
// handing each new configuration to apply, which puts its live settings
// in place, and logging to log. apply is called from one goroutine at a
// time.
func (w *Watcher) Run(ctx context.Context, log *slog.Logger, apply func(config.Config)) error {
	w.mu.Lock()
	w.apply, w.log = apply, log
	prefix := w.running.ConfigEtcdPrefix
	w.mu.Unlock()
	if w.etcdErr != nil {
		log.Error("started without the settings in etcd; they apply once it answers", "err", w.etcdErr)
	}
	var wg sync.WaitGroup
	if w.opts.File != "" {
		wg.Go(func() { w.watchFile(ctx) })
	}
	if w.etcd != nil {
		wg.Go(func() { w.watchEtcd(ctx, prefix) })
	}
	if w.opts.Signals != nil {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case sig := <-w.opts.Signals:
					w.Reload("signal " + sig.String())
				}
			}
		})
	}
	wg.Wait()
	if w.etcd != nil {
		w.etcd.Close()
	}
	return nil
}

// Reload reads the sources again and applies what changed; cause says why,
// for the log. A failed reload is logged and counted, and changes nothing.
func (w *Watcher) Reload(cause string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reloadLocked(cause)
}

func (w *Watcher) reloadLocked(cause string) {
	next, err := w.opts.Load(w.over)
	if err != nil {
		w.errors.Inc()
		w.log.Error("configuration not reloaded; the running one stays", "cause", cause, "err", err)
		return
	}
	var applied, restart []string
	for _, name := range config.Changed(w.running, next) {
		if config.Live(name) {
			applied = append(applied, name)
		} else {
			restart = append(restart, name)
		}
	}
	for _, name := range restart {
		w.log.Warn("setting changed; needs a restart", "setting", name, "cause", cause)
	}
	w.pending.Set(float64(len(restart)))
	if len(applied) == 0 {
		return
	}
	// Only the live settings move; the others keep the values the
	// service runs with, so that they are reported until it restarts.
	keep := w.running
	w.running = next
	for _, name := range restart {
		config.Copy(&w.running, keep, name)
	}
	cfg := w.running
	w.cur.Store(&cfg)
	if w.apply != nil {
		w.apply(cfg)
	}
	w.generation.Inc()
	changes := make(map[string]any, len(applied))
	red := cfg.Redacted()
	for _, name := range applied {
		changes[name] = red[name]
	}
	w.log.Info("configuration reloaded", "cause", cause, "changed", changes)
}

// watchFile reloads when the file changes. It is checked every Interval
// by its contents' identity (the file it resolves to, its size and time),
// since a Kubernetes ConfigMap is updated by swapping a symlink in its
// directory, which is no event on the file itself.
func (w *Watcher) watchFile(ctx context.Context) {
	last := fileSig(w.opts.File)
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if sig := fileSig(w.opts.File); sig != last {
			last = sig
			w.Reload("config file changed")
		}
	}
}

type sig struct {
	path  string
	size  int64
	mtime time.Time
	err   string
}

func fileSig(path string) sig {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return sig{err: err.Error()}
	}
	st, err := os.Stat(real)
	if err != nil {
		return sig{err: err.Error()}
	}
	return sig{path: real, size: st.Size(), mtime: st.ModTime()}
}

// readEtcd returns the settings under prefix and the revision they were
// read at.
func (w *Watcher) readEtcd(ctx context.Context, prefix string) (map[string]string, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := w.etcd.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("config-etcd: read %s: %w", prefix, err)
	}
	over := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		over[string(kv.Key[len(prefix):])] = string(kv.Value)
	}
	return over, resp.Header.Revision, nil
}

// watchEtcd reloads whenever a key under prefix changes. It reads the
// prefix whole, then watches it from the next revision, so no change
// between the two is missed; when the watch breaks (etcd restarted, the
// revision compacted) it reads and watches again.
func (w *Watcher) watchEtcd(ctx context.Context, prefix string) {
	rev := int64(0)
	for ctx.Err() == nil {
		if rev == 0 {
			over, r, err := w.readEtcd(ctx, prefix)
			if err != nil {
				if ctx.Err() == nil {
					w.errors.Inc()
					w.log.Error("configuration not reloaded from etcd; retrying", "err", err)
					sleep(ctx, time.Second)
				}
				continue
			}
			w.mu.Lock()
			changed := !equal(w.over, over)
			w.over = over
			if changed {
				w.reloadLocked("etcd")
			}
			w.mu.Unlock()
			rev = r
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range w.etcd.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if err := resp.Err(); err != nil {
				if !errors.Is(err, context.Canceled) {
					w.log.Warn("etcd watch broke; reading the settings again", "err", err)
				}
				break
			}
			w.mu.Lock()
			for _, ev := range resp.Events {
				name := string(ev.Kv.Key[len(prefix):])
				if ev.Type == clientv3.EventTypeDelete {
					delete(w.over, name)
				} else {
					w.over[name] = string(ev.Kv.Value)
				}
			}
			w.reloadLocked("etcd")
			w.mu.Unlock()
		}
		cancel()
		rev = 0 // read the whole prefix again: changes may have been missed
		sleep(ctx, 200*time.Millisecond)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
