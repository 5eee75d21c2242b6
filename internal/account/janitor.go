package account

import (
	"context"
	"log/slog"
	"time"
)

// DefaultSweep is how often a Janitor deletes expired sessions.
const DefaultSweep = 5 * time.Minute

// Janitor deletes expired sessions from the store now and then. Expired
// sessions are never accepted, so it only keeps the table small; every
// instance may run one.
type Janitor struct {
	store SessionStore
	every time.Duration
	log   *slog.Logger
	now   func() time.Time
}

// NewJanitor returns a Janitor that sweeps store every every (zero:
// DefaultSweep), logging failures to log (nil: discarded).
func NewJanitor(store SessionStore, every time.Duration, log *slog.Logger) *Janitor {
	if every <= 0 {
		every = DefaultSweep
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Janitor{store: store, every: every, log: log, now: time.Now}
}

// Run sweeps at once and then every period until ctx ends, and returns
// nil then. A failed sweep is logged and tried again next period.
func (j *Janitor) Run(ctx context.Context) error {
	t := time.NewTicker(j.every)
	defer t.Stop()
	for {
		j.Sweep(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep deletes the sessions expired by now and returns how many.
func (j *Janitor) Sweep(ctx context.Context) int64 {
	n, err := j.store.DeleteExpiredSessions(ctx, j.now())
	if err != nil {
		if ctx.Err() == nil {
			j.log.WarnContext(ctx, "expired sessions not deleted", "err", err)
		}
		return 0
	}
	return n
}
