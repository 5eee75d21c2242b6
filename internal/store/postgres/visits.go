package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/link"
)

var _ link.Visitor = (*DB)(nil)

// Visit counts one redirect of the live link with id unless it has made
// max_visits already, in one conditional UPDATE on the primary. The row
// lock it takes orders concurrent visits from every instance, and each
// re-checks the condition on the row as the one before left it, so they
// stop exactly at the limit.
func (db *DB) Visit(ctx context.Context, id int64) (bool, error) {
	var n int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		tag, err := p.Exec(ctx, `UPDATE links SET visits = visits + 1
			WHERE id = $1 AND deleted_at IS NULL AND (max_visits IS NULL OR visits < max_visits)`, id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: visit link %d: %w", id, translate(err))
	}
	return n == 1, nil
}
