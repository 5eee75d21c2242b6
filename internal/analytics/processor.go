package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ProcessorOptions configure a Processor.
type ProcessorOptions struct {
	AggregatorOptions
	// Registerer receives the processor's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Log receives batches skipped as already applied; nil discards.
	Log *slog.Logger
}

// A Processor enriches and aggregates batches and applies them to a Sink,
// each batch once. It is the Publisher of a single-process deployment (the
// Recorder hands it batches directly) and the core of a stream worker.
type Processor struct {
	mu   sync.Mutex
	agg  *Aggregator
	sink Sink
	log  *slog.Logger

	batchEvents prometheus.Histogram
	writeTime   prometheus.Histogram
	writeErrors prometheus.Counter
	duplicates  prometheus.Counter
	counted     *prometheus.CounterVec
	human, bot  prometheus.Counter
	orphans     prometheus.Counter
}

// NewProcessor returns a Processor writing to sink. It registers its
// metrics on opts.Registerer and fails if they are already registered.
func NewProcessor(sink Sink, opts ProcessorOptions) (*Processor, error) {
	if sink == nil {
		return nil, errors.New("analytics: processor needs a sink")
	}
	p := &Processor{
		agg:  NewAggregator(opts.AggregatorOptions),
		sink: sink,
		log:  opts.Log,
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "shortlinks_analytics_write_events",
			Help:    "Events in each write to the analytics store.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		writeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "shortlinks_analytics_write_duration_seconds",
			Help:    "Time to enrich, aggregate and commit one write to the analytics store.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10),
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_analytics_write_errors_total",
			Help: "Writes to the analytics store that failed and will be retried.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_analytics_duplicate_batches_total",
			Help: "Batches skipped because the store had applied them already (redelivered or retried).",
		}),
		counted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_clicks_counted_total",
			Help: "Clicks committed to the analytics store, by class: human, bot, orphan.",
		}, []string{"class"}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.human = p.counted.WithLabelValues("human")
	p.bot = p.counted.WithLabelValues("bot")
	p.orphans = p.counted.WithLabelValues("orphan")
	if reg := opts.Registerer; reg != nil {
		for _, c := range []prometheus.Collector{p.batchEvents, p.writeTime, p.writeErrors, p.duplicates, p.counted} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("analytics: register processor metrics: %w", err)
			}
		}
	}
	return p, nil
}

// Process applies batches to the sink as one transaction, leaving out any
// the sink has applied before. On error nothing was applied and Process
// may be called again with the same batches.
func (p *Processor) Process(ctx context.Context, batches []*Batch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A producer that retried a publish whose reply was lost puts the same
	// batch on the stream twice, and one read may return both.
	todo := unique(batches)
	// Each round that meets an AppliedError drops at least one batch, so
	// this ends; in practice it takes one round, or two after a redelivery.
	for len(todo) > 0 {
		start := time.Now()
		p.agg.Reset()
		events := 0
		for _, b := range todo {
			p.agg.Add(b)
			events += len(b.Events)
		}
		d := p.agg.Delta()
		err := p.sink.Apply(ctx, d)
		var seen *AppliedError
		if errors.As(err, &seen) && len(seen.Batches) > 0 {
			p.duplicates.Add(float64(len(seen.Batches)))
			p.log.Info("analytics: skipping batches applied before", "batches", len(seen.Batches), "first", seen.Batches[0].String())
			next := without(todo, seen.Batches)
			if len(next) == len(todo) {
				p.writeErrors.Inc()
				return fmt.Errorf("analytics: the sink names batches it was not given: %w", err)
			}
			todo = next
			continue
		}
		if err != nil {
			p.writeErrors.Inc()
			return fmt.Errorf("analytics: apply %d batches: %w", len(todo), err)
		}
		p.writeTime.Observe(time.Since(start).Seconds())
		p.batchEvents.Observe(float64(events))
		p.human.Add(float64(d.Clicks))
		p.bot.Add(float64(d.BotClicks))
		p.orphans.Add(float64(d.OrphanVisits))
		return nil
	}
	return nil
}

func unique(bs []*Batch) []*Batch {
	seen := make(map[BatchID]bool, len(bs))
	out := bs[:0:0]
	for _, b := range bs {
		if !seen[b.ID] {
			seen[b.ID] = true
			out = append(out, b)
		}
	}
	return out
}

func without(bs []*Batch, ids []BatchID) []*Batch {
	drop := make(map[BatchID]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	var out []*Batch
	for _, b := range bs {
		if !drop[b.ID] {
			out = append(out, b)
		}
	}
	return out
}

// Publish processes batches in one go, so that a Processor can be a
// Recorder's Publisher in a single-process deployment.
func (p *Processor) Publish(ctx context.Context, batches []*Batch) (int, error) {
	if err := p.Process(ctx, batches); err != nil {
		return 0, err
	}
	return len(batches), nil
}
