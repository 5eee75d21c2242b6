package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DBPool is what one database connection pool reports.
type DBPool struct {
	Name     string // "primary", "replica-1", "write", "read"
	Up       bool
	InUse    int
	Idle     int
	Max      int
	Waits    int64         // connections asked for when none was idle
	WaitTime time.Duration // time spent waiting for them
}

var (
	dbConns = prometheus.NewDesc("shortlinks_db_connections",
		"Database connections by pool and state (in_use, idle).", []string{"pool", "state"}, nil)
	dbMax = prometheus.NewDesc("shortlinks_db_connections_max",
		"Largest size of each database connection pool.", []string{"pool"}, nil)
	dbWaits = prometheus.NewDesc("shortlinks_db_waits_total",
		"Connections asked of a pool when none was idle.", []string{"pool"}, nil)
	dbWaitSeconds = prometheus.NewDesc("shortlinks_db_wait_seconds_total",
		"Time spent waiting for a connection from a pool.", []string{"pool"}, nil)
	dbUp = prometheus.NewDesc("shortlinks_db_up",
		"Whether a database server answered when last tried (1) or not (0).", []string{"pool"}, nil)
)

// DBCollector exports the pools that stats reports at each scrape.
type DBCollector struct{ stats func() []DBPool }

// NewDBCollector returns a collector of stats.
func NewDBCollector(stats func() []DBPool) DBCollector { return DBCollector{stats} }

// Describe implements prometheus.Collector.
func (c DBCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbConns, dbMax, dbWaits, dbWaitSeconds, dbUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c DBCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.stats() {
		up := 0.0
		if p.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(dbConns, prometheus.GaugeValue, float64(p.InUse), p.Name, "in_use")
		ch <- prometheus.MustNewConstMetric(dbConns, prometheus.GaugeValue, float64(p.Idle), p.Name, "idle")
		ch <- prometheus.MustNewConstMetric(dbMax, prometheus.GaugeValue, float64(p.Max), p.Name)
		ch <- prometheus.MustNewConstMetric(dbWaits, prometheus.CounterValue, float64(p.Waits), p.Name)
		ch <- prometheus.MustNewConstMetric(dbWaitSeconds, prometheus.CounterValue, p.WaitTime.Seconds(), p.Name)
		ch <- prometheus.MustNewConstMetric(dbUp, prometheus.GaugeValue, up, p.Name)
	}
}
