package postgres

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/store"
)

// server is one PostgreSQL server with its pool and what was last seen of
// its health. A server is marked down when it fails to answer and up again
// when it answers, whether to a request or to the background probe.
type server struct {
	name   string
	pool   *pgxpool.Pool
	log    *slog.Logger
	isDown atomic.Bool // read on every request; changed under mu
	// follows is set when the URL names several hosts: the server may
	// move, so a pool that hangs is dropped rather than waited out.
	follows bool

	mu    sync.Mutex
	since time.Time // when it last went down
}

func (s *server) healthy() bool { return !s.isDown.Load() }

func (s *server) up() {
	if !s.isDown.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isDown.Load() {
		s.isDown.Store(false)
		s.log.Info("database server is back", "server", s.name, "down_for", time.Since(s.since).Round(time.Millisecond).String())
	}
}

func (s *server) down(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isDown.Load() {
		return
	}
	s.isDown.Store(true)
	s.since = time.Now()
	s.log.Warn("database server is down", "server", s.name, "err", err)
	if cut(err) || s.follows {
		// The pooled connections went with the server: drop them all now,
		// rather than fail one request on each when it comes back.
		s.pool.Reset()
	}
}

// drop closes every pooled connection because err showed that they lead
// to a server that no longer has the role asked for.
func (s *server) drop(err error) {
	s.log.Warn("database server changed role; reconnecting", "server", s.name, "err", err)
	s.pool.Reset()
}

// replica returns the next healthy replica in turn, or nil when there is
// none. Turns are shared by all requests, which spreads reads evenly.
func (db *DB) replica() *server {
	n := uint64(len(db.replicas))
	if n == 0 {
		return nil
	}
	start := db.next.Add(1)
	for i := range n {
		if r := db.replicas[(start+i)%n]; r.healthy() {
			return r
		}
	}
	return nil
}

// read runs a query on a healthy replica and, when no replica is healthy or
// the one asked fails, on the primary. A replica that does not answer is
// marked down and the next one is tried.
//
// fn reports a missing row as pgx.ErrNoRows. A replica may not have
// replayed a row the primary has just written, so when a replica misses a
// row the primary is asked before the miss is believed, unless the primary
// is known to be down: then the replica's answer is the best there is.
func (db *DB) read(ctx context.Context, fn func(context.Context, *pgxpool.Pool) error) error {
	var missed error
	for range db.replicas {
		r := db.replica()
		if r == nil {
			break
		}
		err := db.run(ctx, r, fn)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err // the caller has gone
		}
		if errors.Is(err, pgx.ErrNoRows) {
			if !db.primary.healthy() {
				return err
			}
			missed = err
			break
		}
		if r.healthy() {
			// The replica answered with an error, such as a conflict with
			// recovery: the primary will not have that problem.
			break
		}
	}
	err := db.run(ctx, db.primary, fn)
	if err != nil && missed != nil && unreachable(err) {
		// The primary has just gone; the replica's miss stands.
		return missed
	}
	return err
}

// probe tries every server marked down each interval until ctx ends, so
// that a server that comes back is used again without waiting for a
// request to risk it.
func (db *DB) probe(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, s := range db.servers {
			if !s.healthy() {
				wg.Go(func() { db.check(ctx, s) })
			}
		}
		wg.Wait()
	}
}

// Pools reports every server's pool, the primary first.
func (db *DB) Pools() []store.Pool {
	out := make([]store.Pool, len(db.servers))
	for i, s := range db.servers {
		st := s.pool.Stat()
		out[i] = store.Pool{
			Name: s.name, Up: s.healthy(),
			InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()), Max: int(st.MaxConns()),
			Waits: st.EmptyAcquireCount(), WaitTime: st.EmptyAcquireWaitTime(),
		}
	}
	return out
}
