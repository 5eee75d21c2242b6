package liveconfig_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/liveconfig"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// source is a configuration a test changes by hand.
type source struct {
	cfg config.Config
	err error
}

func (s *source) load(map[string]string) (config.Config, error) { return s.cfg, s.err }

func TestReload(t *testing.T) {
	src := &source{cfg: config.Default()}
	w := liveconfig.New(liveconfig.Options{Load: src.load})
	if _, err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := w.Register(reg); err != nil {
		t.Fatal(err)
	}
	var applied []config.Config
	var logs servicetest.Buffer
	// With no file, signals or etcd to watch, Run only takes apply and the
	// log, and returns: the test reloads by hand.
	if err := w.Run(t.Context(), slog.New(slog.NewTextHandler(&logs, nil)), func(c config.Config) { applied = append(applied, c) }); err != nil {
		t.Fatal(err)
	}

	gauge := func(name string) float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == name {
				m := mf.GetMetric()[0]
				if m.Gauge != nil {
					return m.Gauge.GetValue()
				}
				return m.Counter.GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}

	// A live and a restart-only change together: the live one applies, the
	// other is reported and keeps its running value.
	src.cfg.CreateRate, src.cfg.CacheSize = 9, 77
	w.Reload("test")
	if len(applied) != 1 || applied[0].CreateRate != 9 || applied[0].CacheSize != config.Default().CacheSize {
		t.Fatalf("applied %+v; want one config with rate 9 and the default cache size", applied)
	}
	if g := gauge("shortlinks_config_generation"); g != 2 {
		t.Errorf("generation %v, want 2", g)
	}
	if p := gauge("shortlinks_config_restart_pending"); p != 1 {
		t.Errorf("restart pending %v, want 1", p)
	}
	if w.Current().CreateRate != 9 {
		t.Errorf("Current().CreateRate = %v", w.Current().CreateRate)
	}

	// Nothing live changed: nothing is applied.
	w.Reload("test")
	if len(applied) != 1 {
		t.Errorf("a reload without a live change applied again")
	}

	// A failing source changes nothing and is counted.
	src.err = errors.New("bad value")
	src.cfg.CreateRate = 1
	w.Reload("test")
	if len(applied) != 1 || w.Current().CreateRate != 9 {
		t.Errorf("a failed reload applied something")
	}
	if n := gauge("shortlinks_config_reload_errors_total"); n != 1 {
		t.Errorf("reload errors %v, want 1", n)
	}
	if !strings.Contains(logs.String(), "needs a restart") || !strings.Contains(logs.String(), "setting=cache-size") {
		t.Errorf("the log does not report cache-size as needing a restart:\n%s", logs.String())
	}
}
