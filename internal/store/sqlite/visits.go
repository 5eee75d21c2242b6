package sqlite

import (
	"context"
	"fmt"

	"github.com/shortlinks/shortlinks/internal/link"
)

var _ link.Visitor = (*DB)(nil)

// Visit counts one redirect of the live link with id unless it has made
// max_visits already, in one UPDATE on the single writing connection: the
// condition and the increment are one step, so concurrent visits stop
// exactly at the limit.
func (db *DB) Visit(ctx context.Context, id int64) (bool, error) {
	res, err := db.write.ExecContext(ctx,
		`UPDATE links SET visits = visits + 1
			WHERE id = ? AND deleted_at IS NULL AND (max_visits IS NULL OR visits < max_visits)`, id)
	if err != nil {
		return false, fmt.Errorf("sqlite: visit link %d: %w", id, translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: visit link %d: %w", id, translate(err))
	}
	return n == 1, nil
}
