package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

var (
	_ link.Store  = (*DB)(nil)
	_ link.Lister = (*DB)(nil)
)

// Insert stores l; see link.Store.
func (db *DB) Insert(ctx context.Context, l link.Link) error {
	_, err := db.write.ExecContext(ctx,
		`INSERT INTO links (code, url, created_at, expires_at, owner_id) VALUES (?, ?, ?, ?, ?)`,
		string(l.Code), l.URL, l.CreatedAt.UnixMicro(), nullTime(l.ExpiresAt), nullID(l.Owner))
	if err != nil {
		return fmt.Errorf("sqlite: insert %s: %w", l.Code, translate(err))
	}
	return nil
}

// Get returns the live link for c; see link.Store.
func (db *DB) Get(ctx context.Context, c link.Code) (link.Link, error) {
	var row *sql.Row
	if db.get != nil {
		row = db.get.QueryRowContext(ctx, string(c))
	} else {
		row = db.read.QueryRowContext(ctx, `SELECT url, created_at, expires_at, owner_id FROM links WHERE code = ? AND deleted_at IS NULL`, string(c))
	}
	l := link.Link{Code: c}
	var created int64
	var expires, owner sql.NullInt64
	if err := row.Scan(&l.URL, &created, &expires, &owner); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return link.Link{}, link.ErrNotFound
		}
		return link.Link{}, fmt.Errorf("sqlite: get %s: %w", c, translate(err))
	}
	l.CreatedAt = time.UnixMicro(created).UTC()
	if expires.Valid {
		l.ExpiresAt = time.UnixMicro(expires.Int64).UTC()
	}
	l.Owner = owner.Int64
	return l, nil
}

// Delete removes the link for c, keeping its code reserved; see link.Store.
func (db *DB) Delete(ctx context.Context, c link.Code) error {
	res, err := db.write.ExecContext(ctx,
		`UPDATE links SET deleted_at = ?, url = '' WHERE code = ? AND deleted_at IS NULL`,
		time.Now().UnixMicro(), string(c))
	if err != nil {
		return fmt.Errorf("sqlite: delete %s: %w", c, translate(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete %s: %w", c, err)
	} else if n == 0 {
		return link.ErrNotFound
	}
	return nil
}

// List returns a page of live links, newest first; see link.Lister.
func (db *DB) List(ctx context.Context, q link.ListQuery) ([]link.Link, error) {
	query := `SELECT code, url, created_at, expires_at, owner_id FROM links WHERE deleted_at IS NULL`
	var args []any
	if q.Owner != 0 {
		query += ` AND owner_id = ?`
		args = append(args, q.Owner)
	}
	if q.After != nil {
		query += ` AND (created_at, code) < (?, ?)`
		args = append(args, q.After.CreatedAt.UnixMicro(), string(q.After.Code))
	}
	query += ` ORDER BY created_at DESC, code DESC LIMIT ?`
	args = append(args, q.Limit)

	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", translate(err))
	}
	defer rows.Close()
	var out []link.Link
	for rows.Next() {
		var l link.Link
		var created int64
		var expires, owner sql.NullInt64
		if err := rows.Scan(&l.Code, &l.URL, &created, &expires, &owner); err != nil {
			return nil, fmt.Errorf("sqlite: list: %w", err)
		}
		l.CreatedAt = time.UnixMicro(created).UTC()
		if expires.Valid {
			l.ExpiresAt = time.UnixMicro(expires.Int64).UTC()
		}
		l.Owner = owner.Int64
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", translate(err))
	}
	return out, nil
}

// ReserveIDs reserves n ids from the durable counter and returns the first.
// The counter is committed before any id is used, so no id is handed out
// twice even if the process dies.
func (db *DB) ReserveIDs(ctx context.Context, n uint64) (uint64, error) {
	var next int64
	err := db.write.QueryRowContext(ctx,
		`UPDATE counters SET next = next + ? WHERE name = 'link_id' RETURNING next`, int64(n)).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("sqlite: reserve ids: %w", translate(err))
	}
	return uint64(next) - n, nil
}

// Setting returns the stored value of name, first storing init if there is
// none, so that concurrent first starts agree on one value.
func (db *DB) Setting(ctx context.Context, name, init string) (string, error) {
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, init); err != nil {
		return "", fmt.Errorf("sqlite: setting %s: %w", name, translate(err))
	}
	var v string
	if err := db.write.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v); err != nil {
		return "", fmt.Errorf("sqlite: setting %s: %w", name, translate(err))
	}
	return v, nil
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func nullID(id int64) sql.NullInt64 {
	return sql.NullInt64{Int64: id, Valid: id != 0}
}
