package analytics

import (
	"context"
	"fmt"
	"time"
)

// A Sink stores what the pipeline counts. The SQLite and PostgreSQL sinks
// implement it; another engine (ClickHouse, say) can too.
type Sink interface {
	// Apply commits all of d in one transaction: it adds the rollup
	// increments, inserts the visit rows and the user agents the sink
	// lacks, and records d.Batches as applied. If any of d.Batches was
	// applied before, it commits nothing and returns an *AppliedError
	// naming them, so that the caller can apply the rest without them.
	// Any other error means nothing was committed and Apply may be tried
	// again with the same Delta.
	Apply(ctx context.Context, d *Delta) error
}

// AppliedError is returned by Sink.Apply when some of a Delta's batches
// were applied before (a redelivery, a retry after an unclear failure, or
// another worker that got there first).
type AppliedError struct {
	Batches []BatchID
}

func (e *AppliedError) Error() string {
	if len(e.Batches) == 0 {
		return "analytics: batches already applied"
	}
	return fmt.Sprintf("analytics: %d batches already applied (first %v)", len(e.Batches), e.Batches[0])
}

// Defaults for SinkOptions.
const (
	DefaultVisitRetention = 30 * 24 * time.Hour
	DefaultBatchRetention = 7 * 24 * time.Hour
)

// SinkOptions configure a database sink (pgsink, sqlitesink).
type SinkOptions struct {
	// VisitRetention is how long visit rows are kept: visits older than it
	// are not written, and Expire deletes them (PostgreSQL drops whole day
	// partitions, so keeps a visit up to a day longer). Zero means
	// DefaultVisitRetention; a negative value keeps none (Expire deletes
	// every visit, as after raw visits are turned off).
	VisitRetention time.Duration
	// RollupRetention is how long the hourly and daily counts (and the
	// orphan visits' hourly counts) are kept; zero keeps them for ever.
	// The totals of all time are never expired.
	RollupRetention time.Duration
	// BatchRetention is how long the record of an applied batch is kept.
	// It must exceed the longest a batch can wait for redelivery (the
	// stream's retention); zero means DefaultBatchRetention.
	BatchRetention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RollupExpiryEvery is how often Expire deletes the counts past
// RollupRetention. PostgreSQL's rollup tables are keyed by link first, so
// finding the old rows walks each table whole, a range of RollupLinkChunk
// links per statement: once a day, not at every Expire. (SQLite's are keyed
// by time and lose their first rows; it keeps the same pace.)
const (
	RollupExpiryEvery = 24 * time.Hour
	RollupLinkChunk   = 10_000
)

// RollupCutoffs returns, for counts kept for retention at now, the first
// hour and the first UTC day still kept: an hour or day is deleted once
// all of it is older than retention.
func RollupCutoffs(now time.Time, retention time.Duration) (hour, day time.Time) {
	cut := now.UTC().Add(-retention)
	return cut.Truncate(time.Hour), cut.Truncate(24 * time.Hour)
}

// WithDefaults returns o with its zero fields at their defaults.
func (o SinkOptions) WithDefaults() SinkOptions {
	if o.VisitRetention == 0 {
		o.VisitRetention = DefaultVisitRetention
	}
	if o.BatchRetention <= 0 {
		o.BatchRetention = DefaultBatchRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
