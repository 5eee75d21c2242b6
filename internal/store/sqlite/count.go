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
