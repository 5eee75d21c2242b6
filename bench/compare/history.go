package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the driver 'shortlinks' itself uses
)

// fillHistory gives every link of the SQLite database at path the click
// counts and visit packs of a server that has served it for the last
// hours: a count an hour, a count a day of one breakdown and a visit pack
// an hour, written in the order of time as the server would have, and a
// total. The analytics writer's cost per write depends on what its tables
// already hold, which a new database does not show. It uses only columns
// every schema since visit packs has, so a -against commit's database
// gets the same history.
func fillHistory(ctx context.Context, path string, hours int) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	now := time.Now().Truncate(time.Hour)
	pack := make([]byte, 40) // never decoded: the bench reads no visits
	for h := hours; h > 0; h-- {
		at := now.Add(-time.Duration(h) * time.Hour)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`INSERT INTO clicks_hourly (link_id, hour, humans, bots) SELECT id, ?, 0, 1 FROM links`, []any{at.Unix()}},
			{`INSERT INTO clicks_daily (link_id, day, dim, value, humans, bots) SELECT id, ?, 5, 'bot', 0, 1 FROM links WHERE true
				ON CONFLICT DO UPDATE SET bots = bots + 1`, []any{at.Truncate(24 * time.Hour).Unix()}},
			{`INSERT INTO visit_packs (link_id, last_at, visits, data) SELECT id, ?, 1, ? FROM links`, []any{at.UnixMicro(), pack}},
		} {
			if _, err := tx.ExecContext(ctx, q.query, q.args...); err != nil {
				tx.Rollback()
				return fmt.Errorf("history of %s: %w", path, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	_, err = db.ExecContext(ctx, `INSERT INTO clicks_total (link_id, humans, bots, last_click) SELECT id, 0, ?, ? FROM links`,
		hours, now.Add(-time.Hour).UnixMicro())
	if err == nil {
		_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	if err != nil {
		return fmt.Errorf("history of %s: %w", path, err)
	}
	return nil
}
