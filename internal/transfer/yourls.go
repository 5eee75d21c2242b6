package transfer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// YOURLSOptions configures a source that reads links straight out of a
// YOURLS database on MySQL or MariaDB.
type YOURLSOptions struct {
	// DSN is a github.com/go-sql-driver/mysql data source name, e.g.
	// "yourls:secret@tcp(db.internal:3306)/yourls". Leave the session
	// time_zone alone: YOURLS reads and writes its TIMESTAMP column in the
	// server's default one, and so must the import.
	DSN string
	// Prefix is YOURLS_DB_PREFIX from YOURLS' config.php; "" means the
	// default "yourls_". The links are in the table <prefix>url.
	Prefix string
	// Location is the time zone YOURLS wrote its dates in. YOURLS forces
	// UTC unless a plugin changes it, so nil means UTC.
	Location *time.Location
	// BatchSize is how many rows one query reads; 0 means 1000.
	BatchSize int
	Resume    string // a Progress.Resume token from an earlier YOURLS source
}

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_]*$`)

// yourlsSource reads <prefix>url in keyword order, a batch a query,
// starting each batch after the last keyword read. The keyword is the
// table's primary key, so each query is an index range scan, rows added
// meanwhile do not shift anything, and the last keyword is the resume
// position.
type yourlsSource struct {
	db    *sql.DB
	table string
	batch int
	loc   *time.Location

	after string // the last keyword returned
	rows  []yourlsRow
	idx   int
	eof   bool
	read  int64
	total int64
}

type yourlsRow struct {
	keyword, url []byte
	title        sql.NullString
	ts           []byte
	clicks       int64
}

// OpenYOURLS connects, checks that the links table has the columns this
// source reads, and counts its rows (one COUNT(*), which takes a while on
// a table of hundreds of millions of rows).
func OpenYOURLS(ctx context.Context, o YOURLSOptions) (Source, error) {
	if o.Prefix == "" {
		o.Prefix = "yourls_"
	}
	if !prefixPattern.MatchString(o.Prefix) {
		return nil, fmt.Errorf("yourls: table prefix %q: only letters, digits and _ are allowed", o.Prefix)
	}
	cfg, err := mysql.ParseDSN(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("yourls: DSN: %w", err)
	}
	// Dates are read as text and parsed in o.Location, whatever the DSN
	// asks of the driver.
	cfg.ParseTime = false
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("yourls: DSN: %w", err)
	}
	s := &yourlsSource{
		db:    sql.OpenDB(conn),
		table: "`" + o.Prefix + "url`",
		batch: o.BatchSize,
		loc:   o.Location,
	}
	s.db.SetMaxOpenConns(2)
	if s.batch <= 0 {
		s.batch = 1000
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if err := s.open(ctx, o.Resume); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

func (s *yourlsSource) open(ctx context.Context, resume string) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("yourls: connect: %w", err)
	}
	// The columns every YOURLS since 1.0 has; a missing one means a wrong
	// prefix or not a YOURLS database.
	if _, err := s.db.ExecContext(ctx, "SELECT keyword, url, title, timestamp, clicks FROM "+s.table+" LIMIT 0"); err != nil {
		return fmt.Errorf("yourls: table %s is not a YOURLS links table (check the prefix): %w", s.table, err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.table).Scan(&s.total); err != nil {
		return fmt.Errorf("yourls: count the links: %w", err)
	}
	if resume != "" {
		t, err := parseToken("yourls", resume)
		if err != nil {
			return err
		}
		s.read, _ = t.int("read")
		s.after = t.Get("after")
	}
	return nil
}

// fetch reads the next batch of rows after s.after.
func (s *yourlsSource) fetch(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx,
		"SELECT keyword, url, title, timestamp, clicks FROM "+s.table+" WHERE keyword > ? ORDER BY keyword LIMIT ?",
		s.after, s.batch)
	if err != nil {
		return fmt.Errorf("yourls: read links after %q: %w", s.after, err)
	}
	defer rows.Close()
	s.rows, s.idx = s.rows[:0], 0
	for rows.Next() {
		var r yourlsRow
		if err := rows.Scan(&r.keyword, &r.url, &r.title, &r.ts, &r.clicks); err != nil {
			return fmt.Errorf("yourls: read links after %q: %w", s.after, err)
		}
		s.rows = append(s.rows, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("yourls: read links after %q: %w", s.after, err)
	}
	s.eof = len(s.rows) < s.batch
	return nil
}

func (s *yourlsSource) Next(ctx context.Context) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if s.idx >= len(s.rows) {
		if s.eof {
			return Record{}, io.EOF
		}
		if err := s.fetch(ctx); err != nil {
			return Record{}, err
		}
		if len(s.rows) == 0 {
			return Record{}, io.EOF
		}
	}
	row := s.rows[s.idx]
	s.idx++
	s.read++
	s.after = string(row.keyword)
	return s.record(row)
}

// zeroDate is what MySQL keeps in a TIMESTAMP that was never set right.
const zeroDate = "0000-00-00 00:00:00"

func (s *yourlsSource) record(row yourlsRow) (Record, error) {
	r := Record{
		Ref:    string(row.keyword),
		Code:   string(row.keyword),
		URL:    strings.TrimSpace(string(row.url)),
		Title:  row.title.String,
		Clicks: row.clicks,
	}
	switch {
	case r.Code == "":
		return Record{}, rowErr("(empty keyword)", "the keyword is empty")
	case r.URL == "":
		return Record{}, rowErr(r.Ref, "the url is empty")
	case r.Clicks < 0:
		return Record{}, rowErr(r.Ref, "clicks is negative")
	}
	if ts := string(row.ts); ts != "" && !strings.HasPrefix(ts, zeroDate) {
		t, err := time.ParseInLocation("2006-01-02 15:04:05", ts, s.loc)
		if err != nil {
			return Record{}, rowErr(r.Ref, "timestamp %q: %v", ts, err)
		}
		r.CreatedAt = t.UTC()
	}
	if err := checkText(&r); err != nil {
		return Record{}, &RowError{Ref: r.Ref, Err: err}
	}
	return r, nil
}

func (s *yourlsSource) Progress() Progress {
	p := Progress{Read: s.read, Total: s.total}
	if s.read > 0 {
		t := newToken("yourls", s.read)
		t.Set("after", s.after)
		p.Resume = t.String()
	}
	return p
}

func (s *yourlsSource) Close() error {
	if err := s.db.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("yourls: close: %w", err)
	}
	return nil
}
