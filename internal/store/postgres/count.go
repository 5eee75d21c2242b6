package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// CountLinks counts the live links of the API key owner, or every live
// link when owner is 0. It scans the links (an index-only scan of the
// listing indexes at best), so it is for occasional totals, not for every
// request.
func (db *DB) CountLinks(ctx context.Context, owner int64) (int64, error) {
	query, args := `SELECT count(*) FROM links WHERE deleted_at IS NULL`, []any{}
	if owner != 0 {
		query, args = query+` AND owner_id = $1`, append(args, owner)
	}
	var n int64
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx, query, args...).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: count links: %w", translate(err))
	}
	return n, nil
}

// CountClicks sums the clicks by people of all time (imported counts
// included) of the live links of the API key owner, or of every live link
// when owner is 0. Like CountLinks it scans.
func (db *DB) CountClicks(ctx context.Context, owner int64) (int64, error) {
	query, args := `SELECT coalesce(sum(t.humans), 0) FROM links l JOIN clicks_total t ON t.link_id = l.id WHERE l.deleted_at IS NULL`, []any{}
	if owner != 0 {
		query, args = query+` AND l.owner_id = $1`, append(args, owner)
	}
	var n int64
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx, query, args...).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: count clicks: %w", translate(err))
	}
	return n, nil
}
