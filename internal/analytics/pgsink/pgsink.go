// Package pgsink stores click analytics in PostgreSQL: the rollups, the
// user-agent table and the raw visits, partitioned by day. The schema is
// the store's migration 00006_analytics.sql.
package pgsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// Options configure a Sink.
type Options = analytics.SinkOptions

// Sink writes analytics to PostgreSQL through a pgx pool.
type Sink struct {
	pool *pgxpool.Pool
	opts Options
	now  func() time.Time

	mu         sync.Mutex
	partitions map[int64]bool // days (unix seconds) whose partition exists

	copyBuf sync.Pool // *bytes.Buffer for COPY rows

	rollupsExpired time.Time // when Expire last deleted old counts; only Expire uses it
}

var (
	_ analytics.Sink  = (*Sink)(nil)
	_ analytics.Stats = (*Sink)(nil)
)

// New returns a Sink writing through pool, on a database migrated with
// the PostgreSQL store (migration 00006).
func New(pool *pgxpool.Pool, opts Options) *Sink {
	opts = opts.WithDefaults()
	s := &Sink{pool: pool, opts: opts, now: opts.Now, partitions: make(map[int64]bool)}
	s.copyBuf.New = func() any { return new(bytes.Buffer) }
	return s
}

const day = 24 * time.Hour

func partitionName(d time.Time) string { return "visits_" + d.UTC().Format("20060102") }

// ensurePartitions creates the visits partitions for the days of vs that
// are missing. Creating a partition locks the parent table, so it is done
// outside the counting transaction and remembered.
func (s *Sink) ensurePartitions(ctx context.Context, vs []analytics.Visit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vs {
		d := time.Unix(0, v.At).UTC().Truncate(day)
		if s.partitions[d.Unix()] {
			continue
		}
		if err := s.createPartition(ctx, d); err != nil {
			return err
		}
		s.partitions[d.Unix()] = true
	}
	return nil
}

func (s *Sink) createPartition(ctx context.Context, d time.Time) error {
	sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF visits FOR VALUES FROM ('%s') TO ('%s')`,
		pgx.Identifier{partitionName(d)}.Sanitize(), d.Format(time.RFC3339), d.Add(day).Format(time.RFC3339))
	_, err := s.pool.Exec(ctx, sql)
	var pe *pgconn.PgError
	// Two workers creating the same partition at once: one of them loses
	// the race on the catalog's unique index even with IF NOT EXISTS.
	if errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "23505") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgsink: create partition %s: %w", partitionName(d), err)
	}
	return nil
}

// Prepare creates the visits partitions for today and the next days
// ahead, so that writes at midnight do not wait on DDL.
func (s *Sink) Prepare(ctx context.Context, ahead int) error {
	today := s.now().UTC().Truncate(day)
	var vs []analytics.Visit
	for i := range ahead + 1 {
		vs = append(vs, analytics.Visit{At: today.Add(time.Duration(i) * day).UnixNano()})
	}
	return s.ensurePartitions(ctx, vs)
}

// Apply commits d in one transaction. See analytics.Sink.
func (s *Sink) Apply(ctx context.Context, d *analytics.Delta) error {
	cutoff := s.now().Add(-s.opts.VisitRetention).UnixNano()
	visits := d.Visits[:0:0]
	for _, v := range d.Visits {
		if v.At >= cutoff {
			visits = append(visits, v)
		}
	}
	if err := s.ensurePartitions(ctx, visits); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.apply(ctx, tx, d, visits) })
	var ae *analytics.AppliedError
	if err != nil && !errors.As(err, &ae) {
		return fmt.Errorf("pgsink: apply: %w", err)
	}
	return err
}

func (s *Sink) apply(ctx context.Context, tx pgx.Tx, d *analytics.Delta, visits []analytics.Visit) error {
	if err := markApplied(ctx, tx, d.Batches); err != nil {
		return err
	}
	b := &pgx.Batch{}
	if n := len(d.Hourly); n > 0 {
		links, hours, humans, bots := make([]int64, n), make([]time.Time, n), make([]int32, n), make([]int32, n)
		for i, c := range d.Hourly {
			links[i], hours[i], humans[i], bots[i] = c.LinkID, time.Unix(c.Hour, 0), int32(c.Humans), int32(c.Bots)
		}
		b.Queue(`INSERT INTO clicks_hourly (link_id, hour, humans, bots)
			SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::integer[], $4::integer[])
			ON CONFLICT (link_id, hour) DO UPDATE
			SET humans = clicks_hourly.humans + excluded.humans, bots = clicks_hourly.bots + excluded.bots`,
			links, hours, humans, bots)
	}
	if n := len(d.Daily); n > 0 {
		links, days, humans, bots, dims, values := make([]int64, n), make([]time.Time, n), make([]int32, n), make([]int32, n), make([]int16, n), make([]string, n)
		for i, c := range d.Daily {
			links[i], days[i], humans[i], bots[i], dims[i], values[i] = c.LinkID, time.Unix(c.Day, 0).UTC(), int32(c.Humans), int32(c.Bots), int16(c.Dim), c.Value
		}
		b.Queue(`INSERT INTO clicks_daily (link_id, day, humans, bots, dim, value)
			SELECT * FROM unnest($1::bigint[], $2::date[], $3::integer[], $4::integer[], $5::smallint[], $6::text[])
			ON CONFLICT (link_id, day, dim, value) DO UPDATE
			SET humans = clicks_daily.humans + excluded.humans, bots = clicks_daily.bots + excluded.bots`,
			links, days, humans, bots, dims, values)
	}
	if n := len(d.Totals); n > 0 {
		links, humans, bots, last := make([]int64, n), make([]int64, n), make([]int64, n), make([]time.Time, n)
		for i, c := range d.Totals {
			links[i], humans[i], bots[i], last[i] = c.LinkID, c.Humans, c.Bots, time.Unix(0, c.Last)
		}
		b.Queue(`INSERT INTO clicks_total (link_id, humans, bots, last_click)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[])
			ON CONFLICT (link_id) DO UPDATE
			SET humans = clicks_total.humans + excluded.humans, bots = clicks_total.bots + excluded.bots,
			    last_click = greatest(clicks_total.last_click, excluded.last_click)`,
			links, humans, bots, last)
	}
	if n := len(d.Orphans); n > 0 {
		domains, hours, visits, kinds := make([]int64, n), make([]time.Time, n), make([]int64, n), make([]int16, n)
		for i, c := range d.Orphans {
			domains[i], hours[i], visits[i], kinds[i] = int64(c.Domain), time.Unix(c.Hour, 0), c.Visits, int16(c.Kind)
		}
		b.Queue(`INSERT INTO orphan_visits_hourly (domain_id, hour, visits, kind)
			SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::smallint[])
			ON CONFLICT (domain_id, kind, hour) DO UPDATE SET visits = orphan_visits_hourly.visits + excluded.visits`,
			domains, hours, visits, kinds)
	}
	if n := len(d.Agents); n > 0 {
		hashes, bots, browsers, oses, devices, values := make([]int64, n), make([]bool, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, a := range d.Agents {
			hashes[i], bots[i], browsers[i], oses[i], devices[i], values[i] = a.Hash, a.Bot, a.Browser, a.OS, a.Device, validUTF8(a.Value)
		}
		b.Queue(`INSERT INTO user_agents (hash, bot, browser, os, device, value)
			SELECT * FROM unnest($1::bigint[], $2::boolean[], $3::text[], $4::text[], $5::text[], $6::text[])
			ON CONFLICT (hash) DO NOTHING`,
			hashes, bots, browsers, oses, devices, values)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	if len(visits) == 0 {
		return nil
	}
	// Visits, the bulk of the rows, go in through COPY in its text format,
	// written by hand into a reused buffer: pgx's CopyFrom and array
	// parameters both box every value into an interface, which made
	// garbage collection a third of the worker's CPU.
	buf := s.copyBuf.Get().(*bytes.Buffer)
	defer s.copyBuf.Put(buf)
	buf.Reset()
	for i := range visits {
		appendVisit(buf, &visits[i])
	}
	_, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf.Bytes()),
		`COPY visits (at, link_id, ua, bot, addr, country, language, referrer) FROM STDIN`)
	return err
}

// appendVisit writes v as a row of COPY's text format.
func appendVisit(buf *bytes.Buffer, v *analytics.Visit) {
	b := buf.AvailableBuffer()
	b = time.Unix(0, v.At).UTC().AppendFormat(b, "2006-01-02 15:04:05.999999Z07:00")
	b = append(b, '\t')
	b = strconv.AppendInt(b, v.LinkID, 10)
	b = append(b, '\t')
	if v.UA == 0 {
		b = append(b, `\N`...)
	} else {
		b = strconv.AppendInt(b, v.UA, 10)
	}
	b = append(b, '\t')
	b = append(b, "ft"[btoi(v.Bot)])
	b = append(b, '\t')
	if v.Addr.IsValid() {
		b = v.Addr.AppendTo(b)
	} else {
		b = append(b, `\N`...)
	}
	for _, f := range [...]string{v.Country, v.Language, v.Referrer} {
		b = append(b, '\t')
		b = appendCopyText(b, f)
	}
	b = append(b, '\n')
	buf.Write(b)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendCopyText appends s escaped for COPY's text format; bytes that are
// not valid UTF-8, and NULs, which text cannot hold, become U+FFFD.
func appendCopyText(b []byte, s string) []byte {
	for _, r := range validUTF8(s) {
		switch r {
		case '\\':
			b = append(b, `\\`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// validUTF8 keeps a header value PostgreSQL's text will accept.
func validUTF8(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// markApplied records the batches, or returns an *AppliedError naming those
// recorded before. A batch another transaction is recording at this moment
// makes this wait for it, then count as seen if it committed.
func markApplied(ctx context.Context, tx pgx.Tx, ids []analytics.BatchID) error {
	if len(ids) == 0 {
		return nil
	}
	producers, seqs := make([]int64, len(ids)), make([]int64, len(ids))
	for i, id := range ids {
		producers[i], seqs[i] = int64(id.Producer), int64(id.Seq)
	}
	rows, err := tx.Query(ctx, `INSERT INTO analytics_batches (producer, seq)
		SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING RETURNING producer, seq`, producers, seqs)
	if err != nil {
		return err
	}
	fresh := make(map[analytics.BatchID]bool, len(ids))
	var p, q int64
	_, err = pgx.ForEachRow(rows, []any{&p, &q}, func() error {
		fresh[analytics.BatchID{Producer: uint64(p), Seq: uint64(q)}] = true
		return nil
	})
	if err != nil {
		return err
	}
	if len(fresh) == len(ids) {
		return nil
	}
	ae := &analytics.AppliedError{}
	for _, id := range ids {
		if !fresh[id] {
			ae.Batches = append(ae.Batches, id)
		}
	}
	return ae
}

// expireChunk is how many visit rows one statement deletes when rows, not
// partitions, have to go.
const expireChunk = 5000

// Expire drops the visits partitions wholly older than VisitRetention and
// forgets applied batches older than BatchRetention. A visit is so kept
// for between VisitRetention and a day more. When no visits are to be
// kept (a negative VisitRetention), it drops every past day's partition
// and deletes the rows of the others in chunks of expireChunk, so that no
// statement holds the table for long. Once a day it also deletes the
// counts older than RollupRetention, when that is set.
func (s *Sink) Expire(ctx context.Context) error {
	now := s.now().UTC()
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'visits'::regclass`)
	if err != nil {
		return fmt.Errorf("pgsink: list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("pgsink: list partitions: %w", err)
	}
	none := s.opts.VisitRetention < 0
	cutoff := now.Add(-s.opts.VisitRetention)
	if none {
		cutoff = now.Truncate(day)
	}
	for _, name := range names {
		d, err := time.Parse("20060102", strings.TrimPrefix(name, "visits_"))
		if err != nil {
			continue
		}
		if d.Add(day).After(cutoff) {
			if none {
				if err := s.emptyPartition(ctx, name); err != nil {
					return err
				}
			}
			continue
		}
		if _, err := s.pool.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("pgsink: drop partition %s: %w", name, err)
		}
		s.mu.Lock()
		delete(s.partitions, d.Unix())
		s.mu.Unlock()
	}
	if r := s.opts.RollupRetention; r > 0 && now.Sub(s.rollupsExpired) >= analytics.RollupExpiryEvery {
		if err := s.expireRollups(ctx, now, r); err != nil {
			return fmt.Errorf("pgsink: expire counts: %w", err)
		}
		s.rollupsExpired = now
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM analytics_batches WHERE applied_at < $1`, now.Add(-s.opts.BatchRetention)); err != nil {
		return fmt.Errorf("pgsink: forget old batches: %w", err)
	}
	return nil
}

// expireRollups deletes the hourly and daily counts older than retention.
// The tables are keyed by link first, so it walks them a range of links at
// a time through their primary keys, each range a statement of its own.
func (s *Sink) expireRollups(ctx context.Context, now time.Time, retention time.Duration) error {
	hour, day := analytics.RollupCutoffs(now, retention)
	for _, t := range []struct {
		table, at string
		cut       any
	}{{"clicks_hourly", "hour", hour}, {"clicks_daily", "day", day}} {
		var lo, hi *int64
		if err := s.pool.QueryRow(ctx, `SELECT min(link_id), max(link_id) FROM `+t.table).Scan(&lo, &hi); err != nil {
			return err
		}
		if lo == nil {
			continue // an empty table
		}
		for from := *lo; from <= *hi; from += analytics.RollupLinkChunk {
			if _, err := s.pool.Exec(ctx, `DELETE FROM `+t.table+` WHERE link_id >= $1 AND link_id < $2 AND `+t.at+` < $3`,
				from, from+analytics.RollupLinkChunk, t.cut); err != nil {
				return err
			}
		}
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM orphan_visits_hourly WHERE hour < $1`, hour)
	return err
}

// emptyPartition deletes the rows of the visits partition name, expireChunk
// at a time. The partition stays, for the writes it was made for.
func (s *Sink) emptyPartition(ctx context.Context, name string) error {
	t := pgx.Identifier{name}.Sanitize()
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM `+t+` WHERE ctid = ANY(ARRAY(SELECT ctid FROM `+t+` LIMIT $1))`, expireChunk)
		if err != nil {
			return fmt.Errorf("pgsink: delete visits in %s: %w", name, err)
		}
		if tag.RowsAffected() < expireChunk {
			return nil
		}
	}
}

// Total implements analytics.Stats.
func (s *Sink) Total(ctx context.Context, linkID int64) (analytics.TotalCount, error) {
	t := analytics.TotalCount{LinkID: linkID}
	var last time.Time
	err := s.pool.QueryRow(ctx, `SELECT humans, bots, last_click FROM clicks_total WHERE link_id = $1`, linkID).Scan(&t.Humans, &t.Bots, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("pgsink: total of %d: %w", linkID, err)
	}
	t.Last = last.UnixNano()
	return t, nil
}

// Sum returns the clicks of all time of every link together, deleted
// links' included (their rollups are kept).
func (s *Sink) Sum(ctx context.Context) (analytics.TotalCount, error) {
	var t analytics.TotalCount
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(humans), 0)::bigint, coalesce(sum(bots), 0)::bigint FROM clicks_total`).Scan(&t.Humans, &t.Bots)
	if err != nil {
		return t, fmt.Errorf("pgsink: sum of totals: %w", err)
	}
	return t, nil
}

// Totals implements analytics.Stats.
func (s *Sink) Totals(ctx context.Context, linkIDs []int64) (map[int64]analytics.TotalCount, error) {
	out := make(map[int64]analytics.TotalCount, len(linkIDs))
	if len(linkIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT link_id, humans, bots, last_click FROM clicks_total WHERE link_id = ANY($1)`, linkIDs)
	if err != nil {
		return nil, fmt.Errorf("pgsink: totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t analytics.TotalCount
		var last time.Time
		if err := rows.Scan(&t.LinkID, &t.Humans, &t.Bots, &last); err != nil {
			return nil, fmt.Errorf("pgsink: totals: %w", err)
		}
		t.Last = last.UnixNano()
		out[t.LinkID] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgsink: totals: %w", err)
	}
	return out, nil
}

// Hourly implements analytics.Stats.
func (s *Sink) Hourly(ctx context.Context, linkID int64, from, to time.Time) ([]analytics.HourlyCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT hour, humans, bots FROM clicks_hourly
		WHERE link_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour`, linkID, from, to)
	if err != nil {
		return nil, fmt.Errorf("pgsink: hourly clicks of %d: %w", linkID, err)
	}
	var out []analytics.HourlyCount
	var h time.Time
	c := analytics.HourlyCount{LinkID: linkID}
	_, err = pgx.ForEachRow(rows, []any{&h, &c.Humans, &c.Bots}, func() error {
		c.Hour = h.Unix()
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgsink: hourly clicks of %d: %w", linkID, err)
	}
	return out, nil
}

// Breakdowns implements analytics.Stats.
func (s *Sink) Breakdowns(ctx context.Context, linkID int64, dims []analytics.Dimension, from, to time.Time) (map[analytics.Dimension][]analytics.DailyCount, error) {
	ds := make([]int16, len(dims))
	for i, d := range dims {
		ds[i] = int16(d)
	}
	rows, err := s.pool.Query(ctx, `SELECT dim, value, sum(humans), sum(bots) FROM clicks_daily
		WHERE link_id = $1 AND dim = ANY($2) AND day BETWEEN $3 AND $4 GROUP BY dim, value`,
		linkID, ds, from.UTC().Truncate(day), to.UTC().Truncate(day))
	if err != nil {
		return nil, fmt.Errorf("pgsink: breakdowns of %d: %w", linkID, err)
	}
	var counts []analytics.DailyCount
	var dim int16
	c := analytics.DailyCount{LinkID: linkID}
	_, err = pgx.ForEachRow(rows, []any{&dim, &c.Value, &c.Humans, &c.Bots}, func() error {
		c.Dim = analytics.Dimension(dim)
		counts = append(counts, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgsink: breakdowns of %d: %w", linkID, err)
	}
	var humans, bots int64
	start, end := analytics.BreakdownHours(from, to)
	err = s.pool.QueryRow(ctx, `SELECT coalesce(sum(humans), 0)::bigint, coalesce(sum(bots), 0)::bigint FROM clicks_hourly
		WHERE link_id = $1 AND hour >= $2 AND hour < $3`, linkID, start, end).Scan(&humans, &bots)
	if err != nil {
		return nil, fmt.Errorf("pgsink: breakdowns of %d: clicks of the days: %w", linkID, err)
	}
	return analytics.SplitBreakdowns(counts, linkID, dims, humans, bots), nil
}

// Orphans implements analytics.Stats.
func (s *Sink) Orphans(ctx context.Context, from, to time.Time) ([]analytics.OrphanCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT domain_id, kind, hour, visits FROM orphan_visits_hourly
		WHERE hour >= $1 AND hour < $2 ORDER BY domain_id, kind, hour`, from, to)
	if err != nil {
		return nil, fmt.Errorf("pgsink: orphan visits: %w", err)
	}
	var out []analytics.OrphanCount
	var dom int64
	var kind int16
	var h time.Time
	var c analytics.OrphanCount
	_, err = pgx.ForEachRow(rows, []any{&dom, &kind, &h, &c.Visits}, func() error {
		c.Domain, c.Kind, c.Hour = uint32(dom), analytics.Kind(kind), h.Unix()
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgsink: orphan visits: %w", err)
	}
	return out, nil
}

// Visits implements analytics.Stats.
func (s *Sink) Visits(ctx context.Context, linkID int64, limit int) ([]analytics.StoredVisit, error) {
	rows, err := s.pool.Query(ctx, `SELECT v.at, v.bot, v.addr, v.country, v.language, v.referrer,
			coalesce(u.hash, 0), coalesce(u.bot, false), coalesce(u.browser, ''), coalesce(u.os, ''), coalesce(u.device, ''), coalesce(u.value, '')
		FROM visits v LEFT JOIN user_agents u ON u.hash = v.ua
		WHERE v.link_id = $1 ORDER BY v.at DESC LIMIT $2`, linkID, limit)
	if err != nil {
		return nil, fmt.Errorf("pgsink: visits of %d: %w", linkID, err)
	}
	var out []analytics.StoredVisit
	var at time.Time
	var addr *netip.Addr
	var v analytics.StoredVisit
	u := &v.UserAgent
	_, err = pgx.ForEachRow(rows, []any{&at, &v.Bot, &addr, &v.Country, &v.Language, &v.Referrer,
		&u.Hash, &u.Bot, &u.Browser, &u.OS, &u.Device, &u.Value}, func() error {
		v.At, v.LinkID, v.UA, v.Addr = at.UnixNano(), linkID, u.Hash, netip.Addr{}
		if addr != nil {
			v.Addr = *addr
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgsink: visits of %d: %w", linkID, err)
	}
	return out, nil
}
