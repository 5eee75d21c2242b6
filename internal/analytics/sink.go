package analytics

import (
	"context"
	"fmt"
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
