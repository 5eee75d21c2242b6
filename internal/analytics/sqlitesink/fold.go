package sqlitesink

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// How increments are folded (see pending.go). A fold starts after
// foldApplies writes, or once foldRows rows wait, whichever is first: on a
// busy server a write is one to three seconds of clicks, so a link's
// counts reach the tables every one to three minutes, and the rows in
// memory stay under foldRows (about 20 MB) for the live increments and at
// most as many for a fold under way. Each write folds the rows of at least
// foldChunk of them, and at least as many as it logged, so that a fold
// ends before the next is due and no write holds the database longer than
// it did when it wrote its rows itself. (BenchmarkWriter, uniform links:
// 20 writes a fold cut the writer's CPU per click by a quarter, 60 by two
// fifths, 120 by a half.)
const (
	foldApplies = 60
	foldRows    = 400_000
	foldChunk   = 10_000
)

const (
	insertPending = `INSERT INTO analytics_pending (id, data) VALUES (?, ?)`
	setFold       = `INSERT INTO analytics_fold (id, upto, next) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET upto = excluded.upto, next = excluded.next`
	endFold  = `DELETE FROM analytics_fold`
	dropLogs = `DELETE FROM analytics_pending WHERE id <= ?`
)

// pending is the sink's memory of the logged increments that are not in
// the tables yet.
//
// Readers hold mu (read) while they query the tables and read live and
// frozen; a write holds it while it commits and installs what it changed,
// so that a reader sees the increments either in memory or in the tables,
// never both or neither.
type pending struct {
	mu     sync.RWMutex
	loaded atomic.Bool

	live   rollups // logged since the fold under way started
	frozen rollups // being folded, less the links folded already

	applies int   // writes logged into live
	upto    int64 // the log rows frozen came from are those up to upto
	nextID  int64 // the next log row's id
	buf     []byte

	// The limits above; tests lower them.
	foldApplies, foldRows, foldChunk int
}

// step is what a write changes in pending, installed once it commits.
type step struct {
	in           rollups // to add to live, unless it was frozen
	freeze       bool    // live and in became frozen
	frozen       rollups
	applies      int
	upto, nextID int64
}

// load reads the log into memory, once.
func (s *Sink) load(ctx context.Context, conn *sql.Conn) error {
	p := &s.pend
	if p.loaded.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loaded.Load() {
		return nil
	}
	var upto, next int64
	err := conn.QueryRowContext(ctx, `SELECT upto, next FROM analytics_fold`).Scan(&upto, &next)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlitesink: pending rollups: %w", err)
	}
	rows, err := conn.QueryContext(ctx, `SELECT id, data FROM analytics_pending ORDER BY id`)
	if err != nil {
		return fmt.Errorf("sqlitesink: pending rollups: %w", err)
	}
	defer rows.Close()
	var live, frozen, tmp rollups
	applies, last := 0, int64(0)
	for rows.Next() {
		var id int64
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return fmt.Errorf("sqlitesink: pending rollups: %w", err)
		}
		r, err := decodeRollups(data)
		if err != nil {
			return fmt.Errorf("sqlitesink: pending rollups: row %d: %w", id, err)
		}
		if id <= upto {
			r = r.from(next)
			mergeInto(&tmp, &frozen, &r)
			frozen, tmp = tmp, rollups{}
		} else {
			mergeInto(&tmp, &live, &r)
			live, tmp = tmp, rollups{}
			applies++
		}
		last = id
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlitesink: pending rollups: %w", err)
	}
	p.live, p.frozen, p.applies, p.upto, p.nextID = live, frozen, applies, upto, last+1
	p.loaded.Store(true)
	return nil
}

// logAndFold logs d's hourly and daily increments in the transaction on c,
// and folds the next chunk of a fold under way, starting one when it is
// due. It returns what to install in pending once the transaction commits.
func (s *Sink) logAndFold(ctx context.Context, c driverConn, d *analytics.Delta) (step, error) {
	p, w := &s.pend, &s.w
	st := step{frozen: p.frozen, applies: p.applies, upto: p.upto, nextID: p.nextID}
	in := rollups{hourly: d.Hourly, daily: d.Daily}
	if in.len() > 0 {
		p.buf = appendRollups(p.buf[:0], &in)
		if err := w.execOne(ctx, c, insertPending, st.nextID, p.buf); err != nil {
			return st, fmt.Errorf("log: %w", err)
		}
		st.in = in
		st.applies++
		st.nextID++
	}
	// live gets in when this commits; the rows it will have are at most
	// the sum of both.
	if waiting := p.live.len() + in.len(); st.frozen.len() == 0 && waiting > 0 && (st.applies >= p.foldApplies || waiting >= p.foldRows) {
		// The frozen rows are new memory: readers may be reading live.
		st.frozen, st.in, st.freeze = rollups{}, rollups{}, true
		mergeInto(&st.frozen, &p.live, &in)
		st.applies, st.upto = 0, st.nextID-1
	}
	if st.frozen.len() > 0 {
		chunk, rest := st.frozen.split(max(p.foldChunk, in.len()))
		if err := w.writeRollups(ctx, c, &chunk); err != nil {
			return st, fmt.Errorf("fold: %w", err)
		}
		var err error
		if rest.len() > 0 {
			err = w.execOne(ctx, c, setFold, st.upto, rest.firstLink())
		} else if err = w.execOne(ctx, c, dropLogs, st.upto); err == nil {
			err = w.execOne(ctx, c, endFold)
		}
		if err != nil {
			return st, fmt.Errorf("fold: %w", err)
		}
		st.frozen = rest
	}
	return st, nil
}

// install makes st the pending state; the caller holds p.mu, so that no
// reader is reading live while it changes in place.
func (p *pending) install(st step) {
	switch {
	case st.freeze:
		// live is in frozen now; its memory holds the next increments.
		p.live = rollups{hourly: p.live.hourly[:0], daily: p.live.daily[:0]}
	case st.in.len() > 0:
		p.live.hourly = mergeInPlace(p.live.hourly, st.in.hourly, hourlyKey, addHourly)
		p.live.daily = mergeInPlace(p.live.daily, st.in.daily, dailyKey, addDaily)
	}
	if st.frozen.len() == 0 {
		st.frozen = rollups{} // let a drained fold's memory go
	}
	p.frozen, p.applies, p.upto, p.nextID = st.frozen, st.applies, st.upto, st.nextID
}

// foldEverything is foldAll on a connection of its own, under s.mu.
func (s *Sink) foldEverything(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return s.foldAll(ctx, conn)
}

// foldAll writes every pending increment to the tables and empties the
// log, in one transaction on conn; the caller holds s.mu. Close and the
// rollups' expiry call it.
func (s *Sink) foldAll(ctx context.Context, conn *sql.Conn) error {
	if err := s.load(ctx, conn); err != nil {
		return err
	}
	p := &s.pend
	if p.live.len() == 0 && p.frozen.len() == 0 && p.nextID == 1 {
		return nil
	}
	return s.write(ctx, conn, func(c driverConn) (step, error) {
		var all rollups
		mergeInto(&all, &p.frozen, &p.live)
		if err := s.w.writeRollups(ctx, c, &all); err != nil {
			return step{}, err
		}
		if err := s.w.execOne(ctx, c, dropLogs, p.nextID); err != nil {
			return step{}, err
		}
		return step{freeze: true, nextID: 1}, s.w.execOne(ctx, c, endFold)
	})
}

// writeRollups adds r to clicks_hourly and clicks_daily.
func (w *writer) writeRollups(ctx context.Context, c driverConn, r *rollups) error {
	err := w.exec(ctx, c, upsertHourly, values(4), len(r.hourly), func(vals []driver.NamedValue, i int) {
		h := &r.hourly[i]
		vals[0].Value, vals[1].Value, vals[2].Value, vals[3].Value = h.LinkID, h.Hour, h.Humans, h.Bots
	})
	if err != nil {
		return err
	}
	return w.exec(ctx, c, upsertDaily, values(6), len(r.daily), func(vals []driver.NamedValue, i int) {
		d := &r.daily[i]
		vals[0].Value, vals[1].Value, vals[2].Value = d.LinkID, d.Day, int64(d.Dim)
		vals[3].Value, vals[4].Value, vals[5].Value = d.Value, d.Humans, d.Bots
	})
}

// execOne runs query, prepared once, with args.
func (w *writer) execOne(ctx context.Context, c driverConn, query string, args ...any) error {
	st, err := w.stmt(ctx, c, query, "", 1)
	if err != nil {
		return err
	}
	vals := make([]driver.NamedValue, len(args))
	for i, a := range args {
		vals[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	_, err = st.ExecContext(ctx, vals)
	return err
}

// withPending runs read, which queries the tables through q, with the
// pending increments of link, each sorted as rollups are; they are
// copies, read together with what q sees (see pending).
func (s *Sink) withPending(ctx context.Context, link int64, read func(q *sql.Conn, pend rollups) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := s.load(ctx, conn); err != nil {
		return err
	}
	p := &s.pend
	p.mu.RLock()
	defer p.mu.RUnlock()
	var mine rollups
	lh, ld := p.live.ofLink(link)
	fh, fd := p.frozen.ofLink(link)
	mergeInto(&mine, &rollups{lh, ld}, &rollups{fh, fd})
	return read(conn, mine)
}
