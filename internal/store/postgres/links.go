package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/link"
)

var (
	_ link.Store  = (*DB)(nil)
	_ link.Lister = (*DB)(nil)
)

// The queries on the redirect path, named so that tests can check their
// plans.
const (
	getSQL    = `SELECT url, created_at, expires_at, owner_id FROM links WHERE code = $1 AND deleted_at IS NULL`
	insertSQL = `INSERT INTO links (code, url, created_at, expires_at, owner_id) VALUES ($1, $2, $3, $4, $5)`
)

// Insert stores l on the primary; see link.Store.
func (db *DB) Insert(ctx context.Context, l link.Link) error {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		_, err := p.Exec(ctx, insertSQL, string(l.Code), l.URL, l.CreatedAt, nullTime(l.ExpiresAt), nullID(l.Owner))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: insert %s: %w", l.Code, translate(err))
	}
	return nil
}

// InsertBatch stores links on the primary in one COPY, for bulk loading.
// The batch is all or nothing: if any code is already taken, or appears
// twice in links, nothing is stored and the error wraps link.ErrCodeTaken.
// Waiting for a connection is bounded by the database timeout; the copy
// itself only by ctx, since its length is the caller's choice.
func (db *DB) InsertBatch(ctx context.Context, links []link.Link) error {
	if len(links) == 0 {
		return nil
	}
	var conn *pgxpool.Conn
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		var err error
		conn, err = p.Acquire(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: insert batch: %w", translate(err))
	}
	defer conn.Release()
	rows := pgx.CopyFromSlice(len(links), func(i int) ([]any, error) {
		l := links[i]
		return []any{string(l.Code), l.URL, l.CreatedAt, nullTime(l.ExpiresAt), nullID(l.Owner)}, nil
	})
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"links"}, []string{"code", "url", "created_at", "expires_at", "owner_id"}, rows)
		return err
	})
	if err != nil {
		if unreachable(err) && ctx.Err() == nil {
			db.primary.down(err)
		}
		return fmt.Errorf("postgres: insert batch of %d: %w", len(links), translate(err))
	}
	return nil
}

// Get returns the live link for c, from a replica when there is one; see
// link.Store. A code that the replica lacks is looked up on the primary, so
// a link resolves as soon as it is created.
func (db *DB) Get(ctx context.Context, c link.Code) (link.Link, error) {
	l := link.Link{Code: c}
	var expires *time.Time
	var owner *int64
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx, getSQL, string(c)).Scan(&l.URL, &l.CreatedAt, &expires, &owner)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return link.Link{}, link.ErrNotFound
	}
	if err != nil {
		return link.Link{}, fmt.Errorf("postgres: get %s: %w", c, translate(err))
	}
	l.CreatedAt = l.CreatedAt.UTC()
	if expires != nil {
		l.ExpiresAt = expires.UTC()
	}
	if owner != nil {
		l.Owner = *owner
	}
	return l, nil
}

// Delete removes the link for c on the primary, keeping its code reserved;
// see link.Store.
func (db *DB) Delete(ctx context.Context, c link.Code) error {
	var n int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		tag, err := p.Exec(ctx, `UPDATE links SET url = NULL, deleted_at = now() WHERE code = $1 AND deleted_at IS NULL`, string(c))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete %s: %w", c, translate(err))
	}
	if n == 0 {
		return link.ErrNotFound
	}
	return nil
}

// listSQL builds the query for q; it reads one range of links_newest, or of
// links_owner_newest when q names an owner.
func listSQL(q link.ListQuery) (string, []any) {
	query := `SELECT code, url, created_at, expires_at, owner_id FROM links WHERE deleted_at IS NULL`
	var args []any
	if q.Owner != 0 {
		args = append(args, q.Owner)
		query += fmt.Sprintf(` AND owner_id = $%d`, len(args))
	}
	if q.After != nil {
		args = append(args, q.After.CreatedAt, string(q.After.Code))
		query += fmt.Sprintf(` AND (created_at, code) < ($%d, $%d)`, len(args)-1, len(args))
	}
	args = append(args, q.Limit)
	query += fmt.Sprintf(` ORDER BY created_at DESC, code DESC LIMIT $%d`, len(args))
	return query, args
}

// List returns a page of live links, newest first, from a replica when there
// is one; see link.Lister. A replica may lag the primary by its replication
// delay.
func (db *DB) List(ctx context.Context, q link.ListQuery) ([]link.Link, error) {
	query, args := listSQL(q)
	var out []link.Link
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		out = out[:0]
		rows, err := p.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l link.Link
			var expires *time.Time
			var owner *int64
			if err := rows.Scan(&l.Code, &l.URL, &l.CreatedAt, &expires, &owner); err != nil {
				return err
			}
			l.CreatedAt = l.CreatedAt.UTC()
			if expires != nil {
				l.ExpiresAt = expires.UTC()
			}
			if owner != nil {
				l.Owner = *owner
			}
			out = append(out, l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list: %w", translate(err))
	}
	return out, nil
}

// ReserveIDs reserves n consecutive ids from the link_ids sequence on the
// primary and returns the first, durably: see reserveSQL. A reservation of
// up to one block (1000, the usual size) costs one nextval; see
// reserve_link_ids in the schema.
func (db *DB) ReserveIDs(ctx context.Context, n uint64) (uint64, error) {
	if n == 0 || n > 1<<62 {
		return 0, fmt.Errorf("postgres: reserve ids: cannot reserve %d ids", n)
	}
	var first int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		var xid string
		return p.QueryRow(ctx, reserveSQL, int64(n)).Scan(&first, &xid)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: reserve ids: %w", translate(err))
	}
	return uint64(first), nil
}

// Setting returns the stored value of name, first storing init if there is
// none, so that concurrent first starts agree on one value.
func (db *DB) Setting(ctx context.Context, name, init string) (string, error) {
	var v string
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		// Two statements, not one: an INSERT that waited for a concurrent
		// first insert to commit still has a snapshot that cannot see it,
		// but the next statement's snapshot can.
		if _, err := p.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, init); err != nil {
			return err
		}
		return p.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	})
	if err != nil {
		return "", fmt.Errorf("postgres: setting %s: %w", name, translate(err))
	}
	return v, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
