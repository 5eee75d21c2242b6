// Package sqlitesink stores click analytics in SQLite, for the embedded
// single-process deployment. The schema is the store's migration 00006_analytics.sql.
package sqlitesink

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/yield"
)

// Options configure a Sink.
type Options = analytics.SinkOptions

// Sink writes analytics to SQLite. Writes go through db, which should be
// the store's single writing connection (SetMaxOpenConns(1)), so that they
// queue behind each other instead of failing with SQLITE_BUSY.
type Sink struct {
	db   *sql.DB
	opts Options
	now  func() time.Time

	mu sync.Mutex // held by Apply, which uses w
	w  writer

	pend pending // the hourly and daily increments not in the tables yet

	rollupsExpired time.Time // when Expire last deleted old counts; only Expire uses it
}

var (
	_ analytics.Sink  = (*Sink)(nil)
	_ analytics.Stats = (*Sink)(nil)
)

// New returns a Sink on db, a database migrated by the SQLite store (migration 00006).
func New(db *sql.DB, opts Options) *Sink {
	opts = opts.WithDefaults()
	s := &Sink{db: db, opts: opts, now: opts.Now}
	s.pend.foldApplies, s.pend.foldRows, s.pend.foldChunk = foldApplies, foldRows, foldChunk
	return s
}

// Each write is one statement per table with many rows in its VALUES
// list: SQLite's cost per statement executed is several times its cost
// per row, and a batch writes thousands of rows.
const (
	upsertHourly = `INSERT INTO clicks_hourly (link_id, hour, humans, bots) VALUES %s
		ON CONFLICT (hour, link_id) DO UPDATE SET humans = humans + excluded.humans, bots = bots + excluded.bots`
	upsertDaily = `INSERT INTO clicks_daily (link_id, day, dim, value, humans, bots) VALUES %s
		ON CONFLICT (day, link_id, dim, value) DO UPDATE SET humans = humans + excluded.humans, bots = bots + excluded.bots`
	upsertTotal = `INSERT INTO clicks_total (link_id, humans, bots, last_click, last_pack) VALUES %s
		ON CONFLICT (link_id) DO UPDATE SET humans = humans + excluded.humans, bots = bots + excluded.bots,
		last_click = max(last_click, excluded.last_click), last_pack = coalesce(excluded.last_pack, last_pack)`
	upsertOrphan = `INSERT INTO orphan_visits_hourly (domain_id, kind, hour, visits) VALUES %s
		ON CONFLICT (domain_id, kind, hour) DO UPDATE SET visits = visits + excluded.visits`
	insertAgent = `INSERT INTO user_agents (hash, bot, browser, os, device, value) VALUES %s
		ON CONFLICT (hash) DO NOTHING`
	// A row of many links' packs (version 2, see pack.go): link_id is
	// its first link's, and each pack names the row before it.
	insertPack  = `INSERT INTO visit_packs (rowid, link_id, last_at, visits, data) VALUES %s`
	lastPack    = `SELECT coalesce(max(rowid), 0) FROM visit_packs`
	storedPacks = `SELECT link_id, last_pack FROM clicks_total WHERE link_id IN (%s) AND last_pack IS NOT NULL`
	insertBatch = `INSERT INTO analytics_batches (producer, seq, applied_at) VALUES %s ON CONFLICT DO NOTHING`
)

// maxRowsPerStatement is the most rows one statement writes. A write of n
// rows runs statements of the powers of two that add up to it, largest
// first, so that each table needs at most eight prepared statements, kept
// for the life of the connection.
const maxRowsPerStatement = 128

// driverConn is what the sink needs of the driver's connection.
type driverConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
}

type stmtKey struct {
	query string
	rows  int
}

// values is the VALUES list entry of a row of width plain values.
func values(width int) string { return "(?" + strings.Repeat(", ?", width-1) + ")" }

// writer holds what Apply reuses from one transaction to the next: the
// driver's prepared statements, on the connection they were prepared on,
// and the slice their values are passed in.
type writer struct {
	conn  any
	stmts map[stmtKey]driver.StmtExecContext
	args  []driver.NamedValue
	packs packer
	// lastPacks[i] is the rowid of the newest pack row written for the
	// link of the Delta's Totals[i], or nil.
	lastPacks []any
	firsts    []int // indexes of each link's first pack in packs.packs
	dest      []driver.Value
	recent    recentPacks
	asked     int // links whose newest pack row was read from clicks_total, for tests
}

// recentPacks remembers the row of the newest pack of each link packed in
// the last writes, once those writes committed, so that a write reads from
// clicks_total only the rows of links it has not packed lately
// (storedPacks): under load most links clicked were clicked a write or two
// before, and the read was a sixth of the writer's CPU. Only the sink
// writes clicks_total.last_pack, so what it remembers stays true. Two
// generations of at most rememberPacks links each: when the newer is full
// it becomes the older, and the older is dropped. The maps hold no
// pointers, so the collector does not scan them.
type recentPacks struct {
	cur, old map[int64]int64
	limit    int
}

// rememberPacks bounds each generation of recentPacks: with two, some
// 5 MB, and as many links as a write of several seconds at saturation
// clicks, when each is clicked once.
const rememberPacks = 1 << 17

func (r *recentPacks) get(link int64) (int64, bool) {
	if row, ok := r.cur[link]; ok {
		return row, true
	}
	row, ok := r.old[link]
	return row, ok
}

func (r *recentPacks) put(link, row int64) {
	if r.limit == 0 {
		r.limit = rememberPacks
	}
	if len(r.cur) >= r.limit {
		r.old, r.cur = r.cur, r.old
		clear(r.cur)
	}
	if r.cur == nil {
		r.cur = make(map[int64]int64)
	}
	r.cur[link] = row
}

// remember notes the newest pack rows of a write that committed: totals
// and w.lastPacks as buildPacks left them.
func (w *writer) remember(totals []analytics.TotalCount) {
	for i, row := range w.lastPacks {
		if row != nil {
			w.recent.put(totals[i].LinkID, row.(int64))
		}
	}
}

// packer builds the visit packs of one write and the rows that hold them
// (see pack.go), reusing its memory from one write to the next.
type packer struct {
	order []int32 // indexes into the visits, by link and then as given
	sort  []int32 // order's sorting buffer
	buf   []byte  // every pack's encoding, one after the other
	packs []linkPack
	rows  []packRow
	data  []byte // every row's encoding, one after the other
	one   []analytics.Visit
}

// linkPack is the pack of one link's visits in a write.
type linkPack struct {
	link, lastAt int64
	start, end   int   // in buf
	prev         int64 // the rowid of the row with the link's pack before, 0 for none
}

// packRow is a row of visit_packs: packs[first:last+1].
type packRow struct {
	first, last    int
	lastAt, visits int64
	bytes          int
	rowid          int64
	start, end     int // in data
}

// build packs vs: one pack per link, or more for a link with more than
// maxPackVisits, each visit in the order vs gives it; and puts the packs
// into rows, no two of one link in a row.
func (p *packer) build(vs []analytics.Visit) {
	p.order, p.packs, p.rows, p.buf = p.order[:0], p.packs[:0], p.rows[:0], p.buf[:0]
	for i := range vs {
		p.order = append(p.order, int32(i))
	}
	// An Aggregator's Delta has them in this order already.
	if !slices.IsSortedFunc(vs, func(a, b analytics.Visit) int { return cmp.Compare(a.LinkID, b.LinkID) }) {
		yield.SortFunc(p.order, &p.sort, func(a, b int32) int {
			return cmp.Or(cmp.Compare(vs[a].LinkID, vs[b].LinkID), cmp.Compare(a, b))
		})
	}
	for i := 0; i < len(p.order); {
		yield.Every(len(p.packs))
		link := vs[p.order[i]].LinkID
		j := i + 1
		for j < len(p.order) && j-i < maxPackVisits && vs[p.order[j]].LinkID == link {
			j++
		}
		p.one = p.one[:0]
		var last int64
		for _, k := range p.order[i:j] {
			p.one = append(p.one, vs[k])
			last = max(last, vs[k].At)
		}
		start := len(p.buf)
		p.buf = appendPack(p.buf, p.one)
		n := len(p.packs)
		p.packs = append(p.packs, linkPack{link: link, lastAt: last / 1000, start: start, end: len(p.buf)})
		r := len(p.rows) - 1
		if r < 0 || p.rows[r].last-p.rows[r].first+1 >= maxPacksPerRow || p.rows[r].bytes >= maxRowBytes ||
			n > 0 && p.packs[n-1].link == link {
			p.rows = append(p.rows, packRow{first: n})
			r++
		}
		row := &p.rows[r]
		row.last = n
		row.lastAt = max(row.lastAt, last/1000)
		row.visits += int64(j - i)
		row.bytes += len(p.buf) - start
		i = j
	}
	clear(p.one)
}

// stmt returns the statement writing rows rows of query, each row's
// values as in row, preparing it on c the first time. A query without %s
// is prepared as it is.
func (w *writer) stmt(ctx context.Context, c driverConn, query, row string, rows int) (driver.StmtExecContext, error) {
	k := stmtKey{query, rows}
	if st, ok := w.stmts[k]; ok {
		return st, nil
	}
	text := query
	if strings.Contains(query, "%s") {
		text = fmt.Sprintf(query, row+strings.Repeat(", "+row, rows-1))
	}
	ds, err := c.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(driver.StmtExecContext)
	if !ok {
		ds.Close()
		return nil, errors.New("the SQLite driver's statements cannot execute with a context")
	}
	w.stmts[k] = st
	return st, nil
}

// exec writes n rows with query, whose VALUES list is %s, each row's
// values as in row; fill(vals, i) sets row i's values into vals, which has
// an entry for each ? of row.
// The values go to the driver as they are: integers as int64, text as
// string, booleans, or nil for NULL, which it binds without the
// conversions database/sql would make (and allocate for) per value.
func (w *writer) exec(ctx context.Context, c driverConn, query, row string, n int, fill func(vals []driver.NamedValue, i int)) error {
	width := strings.Count(row, "?")
	for i := 0; i < n; {
		k := maxRowsPerStatement
		for k > n-i {
			k >>= 1
		}
		st, err := w.stmt(ctx, c, query, row, k)
		if err != nil {
			return err
		}
		args := w.args[:k*width]
		for j := range k {
			fill(args[j*width:(j+1)*width], i+j)
		}
		if _, err := st.ExecContext(ctx, args); err != nil {
			return err
		}
		// Keep no strings of this Delta alive until the next Apply.
		for j := range args {
			args[j].Value = nil
		}
		i += k
		// A statement is a few hundred microseconds: the redirects
		// sharing the core go in between (see package yield).
		yield.Now()
	}
	return nil
}

// Apply commits d in one transaction. See analytics.Sink.
//
// It works on the driver's connection under database/sql (Conn.Raw), with
// statements prepared once and values passed as they are: the writer runs
// on the same core as the redirects, and what database/sql adds per value
// and per statement was a tenth of its CPU.
func (s *Sink) Apply(ctx context.Context, d *analytics.Delta) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := s.db.Conn(ctx)
	if err == nil {
		defer conn.Close()
		if err = s.load(ctx, conn); err == nil {
			err = s.write(ctx, conn, func(c driverConn) (step, error) { return s.apply(ctx, c, d) })
		}
	}
	if err == nil {
		s.w.remember(d.Totals)
	} else {
		// Forget: a write that failed in its commit may have been
		// made all the same.
		s.w.recent = recentPacks{limit: s.w.recent.limit}
	}
	var ae *analytics.AppliedError
	if err != nil && !errors.As(err, &ae) {
		return fmt.Errorf("sqlitesink: apply: %w", err)
	}
	return err
}

// write runs fn in a transaction on conn's driver connection, then commits
// and installs the step fn returned, together under s.pend.mu (see
// pending). The caller holds s.mu.
func (s *Sink) write(ctx context.Context, conn *sql.Conn, fn func(c driverConn) (step, error)) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driverConn)
		if !ok {
			return fmt.Errorf("the SQLite driver's connection is a %T", dc)
		}
		if s.w.conn != dc {
			// A connection of its own: the statements of another are
			// of no use (database/sql closed it, and they went with it).
			// What was committed is the database's, whatever the
			// connection: the recent pack rows stay.
			s.w = writer{conn: dc, stmts: make(map[stmtKey]driver.StmtExecContext),
				args: make([]driver.NamedValue, maxRowsPerStatement*8), recent: s.w.recent, asked: s.w.asked}
			for i := range s.w.args {
				s.w.args[i].Ordinal = i + 1
			}
		}
		tx, err := c.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return err
		}
		st, err := fn(c)
		if err != nil {
			tx.Rollback()
			return err
		}
		s.pend.mu.Lock()
		defer s.pend.mu.Unlock()
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		s.pend.install(st)
		return nil
	})
}

func (s *Sink) apply(ctx context.Context, c driverConn, d *analytics.Delta) (step, error) {
	now := s.now()
	w := &s.w
	var seen []analytics.BatchID
	mark, err := w.stmt(ctx, c, insertBatch, values(3), 1)
	if err != nil {
		return step{}, err
	}
	for _, id := range d.Batches {
		res, err := mark.ExecContext(ctx, []driver.NamedValue{
			{Ordinal: 1, Value: int64(id.Producer)}, {Ordinal: 2, Value: int64(id.Seq)}, {Ordinal: 3, Value: now.Unix()}})
		if err != nil {
			return step{}, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			seen = append(seen, id)
		}
	}
	if len(seen) > 0 {
		return step{}, &analytics.AppliedError{Batches: seen}
	}
	// A visit older than the retention would be written and expired at
	// once: leave it out. Copy only when there is one.
	cutoff := now.Add(-s.opts.VisitRetention).UnixNano()
	visits := d.Visits
	if slices.ContainsFunc(visits, func(v analytics.Visit) bool { return v.At < cutoff }) {
		visits = slices.DeleteFunc(slices.Clone(visits), func(v analytics.Visit) bool { return v.At < cutoff })
	}
	if err := w.buildPacks(ctx, c, visits, d.Totals); err != nil {
		return step{}, err
	}
	// The packs go before the totals, whose last_pack they read.
	writes := []struct {
		query, row string
		n          int
		fill       func(vals []driver.NamedValue, i int)
	}{
		{upsertOrphan, values(4), len(d.Orphans), func(vals []driver.NamedValue, i int) {
			r := &d.Orphans[i]
			vals[0].Value, vals[1].Value, vals[2].Value, vals[3].Value = int64(r.Domain), int64(r.Kind), r.Hour, r.Visits
		}},
		{insertAgent, values(6), len(d.Agents), func(vals []driver.NamedValue, i int) {
			a := &d.Agents[i]
			vals[0].Value, vals[1].Value, vals[2].Value = a.Hash, a.Bot, a.Browser
			vals[3].Value, vals[4].Value, vals[5].Value = a.OS, a.Device, a.Value
		}},
		{insertPack, values(5), len(w.packs.rows), func(vals []driver.NamedValue, i int) {
			r := &w.packs.rows[i]
			vals[0].Value, vals[1].Value, vals[2].Value = r.rowid, w.packs.packs[r.first].link, r.lastAt
			vals[3].Value, vals[4].Value = r.visits, w.packs.data[r.start:r.end:r.end]
		}},
		{upsertTotal, values(5), len(d.Totals), func(vals []driver.NamedValue, i int) {
			r := &d.Totals[i]
			vals[0].Value, vals[1].Value, vals[2].Value, vals[3].Value = r.LinkID, r.Humans, r.Bots, r.Last/1000
			vals[4].Value = w.lastPacks[i]
		}},
	}
	for _, wr := range writes {
		if err := w.exec(ctx, c, wr.query, wr.row, wr.n, wr.fill); err != nil {
			return step{}, err
		}
	}
	// The hourly and daily counts go to the log (see pending.go).
	return s.logAndFold(ctx, c, d)
}

// buildPacks packs visits into rows (see packer.build) numbered from the
// table's last rowid, each link's pack naming the row of the one before
// it: in this write, or else the one its row of clicks_total names. It
// sets lastPacks[i] to the row of the newest pack of totals[i]'s link, or
// nil. Both the packs and totals are in the order of their link.
func (w *writer) buildPacks(ctx context.Context, c driverConn, visits []analytics.Visit, totals []analytics.TotalCount) error {
	p := &w.packs
	p.build(visits)
	clear(w.lastPacks)
	w.lastPacks = slices.Grow(w.lastPacks[:0], len(totals))[:len(totals)]
	p.data = p.data[:0]
	if len(p.rows) == 0 {
		return nil
	}
	last, err := w.lastPackRowid(ctx, c)
	if err != nil {
		return err
	}
	if err := w.storedPacks(ctx, c); err != nil {
		return err
	}
	for r := range p.rows {
		row := &p.rows[r]
		row.rowid = last + int64(r) + 1
		row.start = len(p.data)
		p.data = appendPacksHeader(p.data, row.last-row.first+1)
		after := int64(0)
		for i := row.first; i <= row.last; i++ {
			yield.Every(i)
			pk := &p.packs[i]
			if i > 0 && p.packs[i-1].link == pk.link {
				pk.prev = p.rows[r-1].rowid // a link's packs are in rows of their own
			}
			p.data = appendPackEntry(p.data, after, pk.link, pk.prev, p.buf[pk.start:pk.end])
			after = pk.link
		}
		row.end = len(p.data)
	}
	j, r := 0, 0
	for i := range totals {
		for j < len(p.packs) && p.packs[j].link < totals[i].LinkID {
			j++
		}
		for ; j < len(p.packs) && p.packs[j].link == totals[i].LinkID; j++ {
			for p.rows[r].last < j {
				r++
			}
			w.lastPacks[i] = p.rows[r].rowid
		}
	}
	return nil
}

// storedPacks sets the prev of each link's first pack of the write to the
// row its row of clicks_total names: remembered from a recent write, or
// read, maxRowsPerStatement links a query.
func (w *writer) storedPacks(ctx context.Context, c driverConn) error {
	p := &w.packs
	w.firsts = w.firsts[:0]
	for i := range p.packs {
		p.packs[i].prev = 0
		if i == 0 || p.packs[i-1].link != p.packs[i].link {
			if row, ok := w.recent.get(p.packs[i].link); ok {
				p.packs[i].prev = row
			} else {
				w.firsts = append(w.firsts, i)
			}
		}
	}
	w.asked += len(w.firsts)
	if w.dest == nil {
		w.dest = make([]driver.Value, 2)
	}
	for i := 0; i < len(w.firsts); {
		k := maxRowsPerStatement
		for k > len(w.firsts)-i {
			k >>= 1
		}
		st, err := w.stmt(ctx, c, storedPacks, "?", k)
		if err != nil {
			return err
		}
		q, ok := st.(driver.StmtQueryContext)
		if !ok {
			return errors.New("the SQLite driver's statements cannot query with a context")
		}
		batch := w.firsts[i : i+k]
		args := w.args[:k]
		for j, f := range batch {
			args[j].Value = p.packs[f].link
		}
		rows, err := q.QueryContext(ctx, args)
		for j := range args {
			args[j].Value = nil
		}
		if err != nil {
			return err
		}
		for {
			err := rows.Next(w.dest)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return err
			}
			link, _ := w.dest[0].(int64)
			pack, _ := w.dest[1].(int64)
			// batch is in the order of the links.
			if j, ok := slices.BinarySearchFunc(batch, link, func(f int, l int64) int { return cmp.Compare(p.packs[f].link, l) }); ok {
				p.packs[batch[j]].prev = pack
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		i += k
		yield.Now()
	}
	return nil
}

// lastPackRowid returns the largest rowid of visit_packs, 0 when empty.
func (w *writer) lastPackRowid(ctx context.Context, c driverConn) (int64, error) {
	st, err := w.stmt(ctx, c, lastPack, "", 1)
	if err != nil {
		return 0, err
	}
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		return 0, errors.New("the SQLite driver's statements cannot query with a context")
	}
	rows, err := q.QueryContext(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return 0, err
	}
	n, ok := dest[0].(int64)
	if !ok {
		return 0, fmt.Errorf("the last pack's rowid read as %T", dest[0])
	}
	return n, nil
}

// Close folds the pending increments into the tables (see pending.go),
// then releases the statements Apply prepared. Call it after the last
// Apply and before the database is closed: SQLite keeps a connection with
// statements left open until they are (close_v2).
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := s.db.Conn(context.Background())
	if err != nil {
		return nil // the database is closed already
	}
	defer conn.Close()
	var errs []error
	if err := s.foldAll(context.Background(), conn); err != nil {
		errs = append(errs, fmt.Errorf("fold: %w", err))
	}
	if s.w.conn != nil {
		conn.Raw(func(dc any) error {
			if dc != s.w.conn {
				return nil
			}
			for _, st := range s.w.stmts {
				errs = append(errs, st.(driver.Stmt).Close())
			}
			return nil
		})
	}
	s.w = writer{}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitesink: close: %w", err)
	}
	return nil
}

// expireChunk is how many rows one expiry statement deletes: each chunk
// is a transaction of its own, so that other writes (links created, the
// next batch of clicks) get the one writing connection in between.
const expireChunk = 2000

// Expire deletes visits older than VisitRetention (all of them when it is
// negative) and forgets applied batches older than BatchRetention, in
// chunks of expireChunk rows; once a day it also deletes the counts older
// than RollupRetention, when that is set. A pack goes once its newest visit is past
// the retention; Visits leaves out the older visits of a pack kept.
//
// Visits are written within seconds of their time, so their rowids follow
// their times but for that skew: Expire walks the table in rowid order and
// stops at the first pack still inside the retention, rather than keeping
// an index on the time that every write would pay for. A pack written
// late (after the writer could not reach the database for a while) goes
// when the packs before it have gone.
func (s *Sink) Expire(ctx context.Context) error {
	now := s.now()
	cutoff := int64(math.MaxInt64)
	if s.opts.VisitRetention > 0 {
		cutoff = now.Add(-s.opts.VisitRetention).UnixMicro()
	}
	// visits holds the rows written one per visit before migration 00011.
	for _, t := range []struct{ table, at string }{{"visit_packs", "last_at"}, {"visits", "at"}} {
		for {
			n, err := s.expireRows(ctx, t.table, t.at, cutoff)
			if err != nil {
				return fmt.Errorf("sqlitesink: expire %s: %w", t.table, err)
			}
			if n < expireChunk {
				break
			}
		}
	}
	if r := s.opts.RollupRetention; r > 0 && now.Sub(s.rollupsExpired) >= analytics.RollupExpiryEvery {
		if err := s.expireRollups(ctx, now, r); err != nil {
			return fmt.Errorf("sqlitesink: expire counts: %w", err)
		}
		s.rollupsExpired = now
	}
	for {
		res, err := s.db.ExecContext(ctx, `DELETE FROM analytics_batches WHERE (producer, seq) IN
			(SELECT producer, seq FROM analytics_batches WHERE applied_at < ? LIMIT ?)`, now.Add(-s.opts.BatchRetention).Unix(), expireChunk)
		if err != nil {
			return fmt.Errorf("sqlitesink: forget old batches: %w", err)
		}
		if n, _ := res.RowsAffected(); n < expireChunk {
			break
		}
	}
	return nil
}

// expireRollups deletes the hourly and daily counts older than retention.
// The tables are keyed by time first (migration 00012), so the rows to go
// are the first of each; they go expireChunk at a time, each chunk one
// statement on the writing connection, where clicks being written queue
// behind it as behind any other write.
func (s *Sink) expireRollups(ctx context.Context, now time.Time, retention time.Duration) error {
	// What waits in memory may be as old as what goes.
	if err := s.foldEverything(ctx); err != nil {
		return fmt.Errorf("fold: %w", err)
	}
	hour, day := analytics.RollupCutoffs(now, retention)
	for _, t := range []struct {
		table, key, at string
		cut            int64
	}{
		{"clicks_hourly", "hour, link_id", "hour", hour.Unix()},
		{"clicks_daily", "day, link_id, dim, value", "day", day.Unix()},
		{"orphan_visits_hourly", "domain_id, kind, hour", "hour", hour.Unix()},
	} {
		for {
			res, err := s.db.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %[1]s WHERE (%[2]s) IN
				(SELECT %[2]s FROM %[1]s WHERE %[3]s < ? LIMIT ?)`, t.table, t.key, t.at), t.cut, expireChunk)
			if err != nil {
				return fmt.Errorf("%s: %w", t.table, err)
			}
			if n, _ := res.RowsAffected(); n < expireChunk {
				break
			}
		}
	}
	return nil
}

// expireRows deletes the oldest run of at most expireChunk rows of table,
// in rowid order, whose column at is older than cutoff (unix
// microseconds), and returns how many it deleted: fewer than expireChunk
// means the run ended.
func (s *Sink) expireRows(ctx context.Context, table, at string, cutoff int64) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT rowid, %s FROM %s ORDER BY rowid LIMIT ?`, at, table), expireChunk)
	if err != nil {
		return 0, err
	}
	var last int64
	n := 0
	for rows.Next() {
		var id, at int64
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return 0, err
		}
		if at >= cutoff {
			break
		}
		last = id
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE rowid <= ?`, table), last); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// Total implements analytics.Stats.
func (s *Sink) Total(ctx context.Context, linkID int64) (analytics.TotalCount, error) {
	t := analytics.TotalCount{LinkID: linkID}
	var last int64
	err := s.db.QueryRowContext(ctx, `SELECT humans, bots, last_click FROM clicks_total WHERE link_id = ?`, linkID).Scan(&t.Humans, &t.Bots, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("sqlitesink: total of %d: %w", linkID, err)
	}
	t.Last = last * 1000
	return t, nil
}

// Sum returns the clicks of all time of every link together, deleted
// links' included (their rollups are kept).
func (s *Sink) Sum(ctx context.Context) (analytics.TotalCount, error) {
	var t analytics.TotalCount
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(humans), 0), coalesce(sum(bots), 0) FROM clicks_total`).Scan(&t.Humans, &t.Bots)
	if err != nil {
		return t, fmt.Errorf("sqlitesink: sum of totals: %w", err)
	}
	return t, nil
}

func collect[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Totals implements analytics.Stats.
func (s *Sink) Totals(ctx context.Context, linkIDs []int64) (map[int64]analytics.TotalCount, error) {
	out := make(map[int64]analytics.TotalCount, len(linkIDs))
	if len(linkIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(linkIDs))
	for i, id := range linkIDs {
		args[i] = id
	}
	q := `SELECT link_id, humans, bots, last_click FROM clicks_total WHERE link_id IN (?` + strings.Repeat(",?", len(linkIDs)-1) + `)`
	rows, err := s.db.QueryContext(ctx, q, args...)
	_, err = collect(rows, err, func(r *sql.Rows) (struct{}, error) {
		var t analytics.TotalCount
		if err := r.Scan(&t.LinkID, &t.Humans, &t.Bots, &t.Last); err != nil {
			return struct{}{}, err
		}
		t.Last *= 1000
		out[t.LinkID] = t
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitesink: totals: %w", err)
	}
	return out, nil
}

// A link's counts are read an hour or a day at a time, through the
// tables' keys (time first, then link): eachHour and eachDay begin a query
// with t, the hours (days) in [?1, ?2) from the table's first to its last,
// as unix seconds (each min and max a separate query: SQLite answers one
// from the key's ends only when it is alone; hi carried in t rather than
// joined at each step, which cost six times as much); the query joins t
// with the counts of link ?3.
const (
	eachHour = `WITH RECURSIVE
		t(at, hi) AS (SELECT lo, hi FROM (SELECT max((?1 + 3599) / 3600 * 3600, (SELECT min(hour) FROM clicks_hourly)) AS lo,
				min(?2, (SELECT max(hour) FROM clicks_hourly) + 1) AS hi) WHERE lo < hi
			UNION ALL SELECT at + 3600, hi FROM t WHERE at + 3600 < hi)
		`
	eachDay = `WITH RECURSIVE
		t(at, hi) AS (SELECT lo, hi FROM (SELECT max(?1, (SELECT min(day) FROM clicks_daily)) AS lo,
				min(?2, (SELECT max(day) FROM clicks_daily) + 1) AS hi) WHERE lo < hi
			UNION ALL SELECT at + 86400, hi FROM t WHERE at + 86400 < hi)
		`
)

// Hourly implements analytics.Stats.
func (s *Sink) Hourly(ctx context.Context, linkID int64, from, to time.Time) ([]analytics.HourlyCount, error) {
	var out []analytics.HourlyCount
	err := s.withPending(ctx, linkID, func(q *sql.Conn, pend rollups) error {
		rows, err := q.QueryContext(ctx, eachHour+`SELECT c.hour, c.humans, c.bots FROM t
			JOIN clicks_hourly AS c ON c.hour = t.at AND c.link_id = ?3 ORDER BY c.hour`, from.Unix(), to.Unix(), linkID)
		stored, err := collect(rows, err, func(r *sql.Rows) (analytics.HourlyCount, error) {
			c := analytics.HourlyCount{LinkID: linkID}
			return c, r.Scan(&c.Hour, &c.Humans, &c.Bots)
		})
		if err != nil {
			return err
		}
		lo, hi := from.Unix(), to.Unix()
		in := slices.DeleteFunc(pend.hourly, func(c analytics.HourlyCount) bool { return c.Hour < lo || c.Hour >= hi })
		out = mergeSorted(nil, stored, in, hourlyKey, addHourly)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitesink: hourly clicks of %d: %w", linkID, err)
	}
	return out, nil
}

// Breakdowns implements analytics.Stats.
func (s *Sink) Breakdowns(ctx context.Context, linkID int64, dims []analytics.Dimension, from, to time.Time) (map[analytics.Dimension][]analytics.DailyCount, error) {
	const day = 24 * time.Hour
	firstDay, endDay := from.UTC().Truncate(day), to.UTC().Truncate(day).Add(day)
	start, end := analytics.BreakdownHours(from, to)
	var counts []analytics.DailyCount
	var humans, bots int64
	err := s.withPending(ctx, linkID, func(q *sql.Conn, pend rollups) error {
		// Each day's rows of the link are one range of the key, all
		// dimensions together; those not asked for are left out by
		// SplitBreakdowns.
		rows, err := q.QueryContext(ctx, eachDay+`SELECT c.dim, c.value, sum(c.humans), sum(c.bots) FROM t
			JOIN clicks_daily AS c ON c.day = t.at AND c.link_id = ?3 GROUP BY c.dim, c.value`,
			firstDay.Unix(), endDay.Unix(), linkID)
		counts, err = collect(rows, err, func(r *sql.Rows) (analytics.DailyCount, error) {
			c := analytics.DailyCount{LinkID: linkID}
			return c, r.Scan(&c.Dim, &c.Value, &c.Humans, &c.Bots)
		})
		if err != nil {
			return err
		}
		err = q.QueryRowContext(ctx, eachHour+`SELECT coalesce(sum(c.humans), 0), coalesce(sum(c.bots), 0) FROM t
			JOIN clicks_hourly AS c ON c.hour = t.at AND c.link_id = ?3`, start.Unix(), end.Unix(), linkID).Scan(&humans, &bots)
		if err != nil {
			return fmt.Errorf("clicks of the days: %w", err)
		}
		for _, c := range pend.hourly {
			if c.Hour >= start.Unix() && c.Hour < end.Unix() {
				humans, bots = humans+c.Humans, bots+c.Bots
			}
		}
		counts = sumByValue(counts, pend.daily, firstDay.Unix(), endDay.Unix())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitesink: breakdowns of %d: %w", linkID, err)
	}
	return analytics.SplitBreakdowns(counts, linkID, dims, humans, bots), nil
}

// sumByValue adds to counts, a link's sums by dimension and value, the rows
// of add of the days from lo up to hi.
func sumByValue(counts, add []analytics.DailyCount, lo, hi int64) []analytics.DailyCount {
	type key struct {
		dim   analytics.Dimension
		value string
	}
	at := make(map[key]int, len(counts))
	for i, c := range counts {
		at[key{c.Dim, c.Value}] = i
	}
	for _, c := range add {
		if c.Day < lo || c.Day >= hi {
			continue
		}
		k := key{c.Dim, c.Value}
		i, ok := at[k]
		if !ok {
			i = len(counts)
			at[k] = i
			counts = append(counts, analytics.DailyCount{LinkID: c.LinkID, Dim: c.Dim, Value: c.Value})
		}
		counts[i].Humans += c.Humans
		counts[i].Bots += c.Bots
	}
	return counts
}

// Orphans implements analytics.Stats.
func (s *Sink) Orphans(ctx context.Context, from, to time.Time) ([]analytics.OrphanCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT domain_id, kind, hour, visits FROM orphan_visits_hourly
		WHERE hour >= ? AND hour < ? ORDER BY domain_id, kind, hour`, from.Unix(), to.Unix())
	out, err := collect(rows, err, func(r *sql.Rows) (analytics.OrphanCount, error) {
		var c analytics.OrphanCount
		return c, r.Scan(&c.Domain, &c.Kind, &c.Hour, &c.Visits)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitesink: orphan visits: %w", err)
	}
	return out, nil
}

// Visits implements analytics.Stats.
func (s *Sink) Visits(ctx context.Context, linkID int64, limit int) ([]analytics.StoredVisit, error) {
	if limit <= 0 {
		return nil, nil
	}
	cutoff := int64(math.MinInt64)
	if s.opts.VisitRetention > 0 {
		cutoff = s.now().Add(-s.opts.VisitRetention).UnixNano()
	}
	vs, err := s.packedVisits(ctx, linkID, limit, cutoff)
	if err != nil {
		return nil, fmt.Errorf("sqlitesink: visits of %d: %w", linkID, err)
	}
	// Visits written before migration 00011, one row each, until they expire.
	rows, err := s.db.QueryContext(ctx, `SELECT at, bot, coalesce(ua, 0), coalesce(addr, ''), country, language, referrer
		FROM visits WHERE link_id = ? AND at >= ? ORDER BY at DESC LIMIT ?`, linkID, cutoff/1000, limit)
	old, err := collect(rows, err, func(r *sql.Rows) (analytics.Visit, error) {
		v := analytics.Visit{LinkID: linkID}
		var addr string
		if err := r.Scan(&v.At, &v.Bot, &v.UA, &addr, &v.Country, &v.Language, &v.Referrer); err != nil {
			return v, err
		}
		v.At *= 1000
		v.Addr, _ = netip.ParseAddr(addr)
		return v, nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitesink: visits of %d: %w", linkID, err)
	}
	vs = newest(append(vs, old...), limit)
	agents, err := s.agents(ctx, vs)
	if err != nil {
		return nil, fmt.Errorf("sqlitesink: visits of %d: %w", linkID, err)
	}
	out := make([]analytics.StoredVisit, len(vs))
	for i, v := range vs {
		out[i] = analytics.StoredVisit{Visit: v, UserAgent: agents[v.UA]}
	}
	return out, nil
}

// packedVisits returns link's newest visits from its packs, at most limit,
// none before cutoff (unix nanoseconds). It follows the link's chain of
// packs (migration 00012) from the newest its total names, in the order
// they were written (the order of their visits but for a batch delivered
// late), and stops at the first row whose newest visit (of any of its
// links) is older than the limit-th newest visit read so far, or than
// cutoff, or that expiry has deleted. Since an emptied table gives rowids
// again, a row that holds no pack of the link (a version 1 row: whose
// link_id is another's) ends the walk, and a chain goes only to lower
// rowids.
func (s *Sink) packedVisits(ctx context.Context, link int64, limit int, cutoff int64) ([]analytics.Visit, error) {
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT last_pack FROM clicks_total WHERE link_id = ?`, link).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var vs []analytics.Visit
	for next.Valid {
		var owner, last int64
		var data []byte
		at := next.Int64
		err := s.db.QueryRowContext(ctx, `SELECT link_id, last_at, data, prev FROM visit_packs WHERE rowid = ?`, at).
			Scan(&owner, &last, &data, &next)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(data) > 0 && data[0] == packsVersion {
			pack, prev, ok, err := findPack(data, link)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			data, next = pack, sql.NullInt64{Int64: prev, Valid: prev != 0}
		} else if owner != link {
			break
		}
		if last*1000 < cutoff || len(vs) >= limit && last*1000 < vs[limit-1].At {
			break
		}
		n := len(vs)
		if vs, err = decodePack(vs, link, data); err != nil {
			return nil, err
		}
		vs = append(vs[:n], slices.DeleteFunc(vs[n:], func(v analytics.Visit) bool { return v.At < cutoff })...)
		if len(vs) >= limit {
			vs = newest(vs, limit)
		}
		if next.Valid && next.Int64 >= at {
			break
		}
	}
	return vs, nil
}

// newest sorts vs newest first and keeps the first limit.
func newest(vs []analytics.Visit, limit int) []analytics.Visit {
	slices.SortStableFunc(vs, func(a, b analytics.Visit) int { return cmp.Compare(b.At, a.At) })
	return vs[:min(len(vs), limit)]
}

// agents returns the user agents vs refer to, by hash.
func (s *Sink) agents(ctx context.Context, vs []analytics.Visit) (map[int64]analytics.UserAgent, error) {
	var hashes []any
	seen := make(map[int64]bool)
	for _, v := range vs {
		if v.UA != 0 && !seen[v.UA] {
			seen[v.UA] = true
			hashes = append(hashes, v.UA)
		}
	}
	out := make(map[int64]analytics.UserAgent, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT hash, bot, browser, os, device, value FROM user_agents
		WHERE hash IN (?`+strings.Repeat(", ?", len(hashes)-1)+`)`, hashes...)
	_, err = collect(rows, err, func(r *sql.Rows) (struct{}, error) {
		var u analytics.UserAgent
		if err := r.Scan(&u.Hash, &u.Bot, &u.Browser, &u.OS, &u.Device, &u.Value); err != nil {
			return struct{}{}, err
		}
		out[u.Hash] = u
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("user agents: %w", err)
	}
	return out, nil
}
