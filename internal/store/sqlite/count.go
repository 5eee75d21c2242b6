package sqlite

import (
	"context"
	"fmt"
)

// CountLinks counts the live links of the API key owner, or every live
// link when owner is 0.
func (db *DB) CountLinks(ctx context.Context, owner int64) (int64, error) {
	query, args := `SELECT count(*) FROM links WHERE deleted_at IS NULL`, []any{}
	if owner != 0 {
		query, args = query+` AND owner_id = ?`, append(args, owner)
	}
	var n int64
	if err := db.read.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count links: %w", translate(err))
	}
	return n, nil
}

// CountClicks sums the clicks by people of all time (imported counts
// included) of the live links of the API key owner, or of every live link
// when owner is 0.
func (db *DB) CountClicks(ctx context.Context, owner int64) (int64, error) {
	query, args := `SELECT coalesce(sum(t.humans), 0) FROM links l JOIN clicks_total t ON t.link_id = l.id WHERE l.deleted_at IS NULL`, []any{}
	if owner != 0 {
		query, args = query+` AND l.owner_id = ?`, append(args, owner)
	}
	var n int64
	if err := db.read.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count clicks: %w", translate(err))
	}
	return n, nil
}
