package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shortlinks/shortlinks/internal/link"
)

// bulkCacheKiB is the page cache the writer keeps once it has bulk-loaded:
// inserting random codes touches pages all over the code index, and with
// SQLite's default 2 MiB cache most of those touches would re-read a page.
const bulkCacheKiB = 256 << 10

// InsertBatch stores links in one transaction through one prepared
// statement: all of them or none. A code already used, deleted links
// included, fails the whole batch with ErrCodeTaken. It is meant for bulk
// loads such as 'shortlinks seed'; callers choose the batch size, and tens
// of thousands of links per call amortise the commit's sync.
//
// The first call grows the writer connection's page cache to 256 MiB, and
// it stays so until the database is closed.
func (db *DB) InsertBatch(ctx context.Context, links []link.Link) error {
	if len(links) == 0 {
		return nil
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: insert batch: %w", translate(err))
	}
	defer conn.Close()
	// A negative cache_size is in KiB rather than pages.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", bulkCacheKiB)); err != nil {
		return fmt.Errorf("sqlite: insert batch: %w", translate(err))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: insert batch: %w", translate(err))
	}
	defer tx.Rollback()
	// Each statement carries rowsPerStatement links: the per-statement cost
	// of database/sql and the driver is most of the time of a one-row insert.
	var full *sql.Stmt
	args := make([]any, 0, rowsPerStatement*columns)
	for rest := links; len(rest) > 0; {
		n := min(len(rest), rowsPerStatement)
		args = args[:0]
		for _, l := range rest[:n] {
			a, err := insertArgs(l)
			if err != nil {
				return fmt.Errorf("sqlite: insert batch: %w", err)
			}
			args = append(args, a...)
		}
		st := full
		if n < rowsPerStatement || full == nil {
			st, err = tx.PrepareContext(ctx, insertRows(n))
			if err != nil {
				return fmt.Errorf("sqlite: insert batch: %w", translate(err))
			}
			defer st.Close()
			if n == rowsPerStatement {
				full = st
			}
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("sqlite: insert batch of %d from %s: %w", n, rest[0].Code, translate(err))
		}
		rest = rest[n:]
	}
	for _, l := range links {
		for _, tag := range l.Tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO link_tags (link_id, tag) SELECT id, ? FROM links WHERE code = ? AND domain_id = ?`, tag, string(l.Code), l.Domain); err != nil {
				return fmt.Errorf("sqlite: insert batch: tags of %s: %w", l.Code, translate(err))
			}
		}
		if l.ImportedClicks > 0 {
			// The time of the last of those clicks is not known: 0 reads
			// as "none", and the first click here replaces it.
			if _, err := tx.ExecContext(ctx, `INSERT INTO clicks_total (link_id, humans, bots, last_click)
				SELECT id, ?, 0, 0 FROM links WHERE code = ? AND domain_id = ?
				ON CONFLICT (link_id) DO UPDATE SET humans = humans + excluded.humans`, l.ImportedClicks, string(l.Code), l.Domain); err != nil {
				return fmt.Errorf("sqlite: insert batch: clicks of %s: %w", l.Code, translate(err))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: insert batch: commit: %w", translate(err))
	}
	return nil
}

// rowsPerStatement links of columns values each stay under SQLite's
// limit of 32766 variables in one statement.
const (
	rowsPerStatement = 200
	columns          = 15
)

// insertRows is an INSERT of n links.
func insertRows(n int) string {
	var b strings.Builder
	head, _, _ := strings.Cut(insertSQL, " VALUES ")
	b.WriteString(head + " VALUES ")
	row := "(?" + strings.Repeat(", ?", columns-1) + ")"
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}
