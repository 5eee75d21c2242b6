package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Existing returns, for each of codes that has ever been used on domain,
// the URL of its live link, or "" when the link was deleted. It reads the
// primary, so that an import that checks before it loads sees every
// committed link.
func (db *DB) Existing(ctx context.Context, domain int64, codes []link.Code) (map[link.Code]string, error) {
	found := make(map[link.Code]string)
	if len(codes) == 0 {
		return found, nil
	}
	keys := make([]string, len(codes))
	for i, c := range codes {
		keys[i] = string(c)
	}
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		clear(found)
		rows, err := p.Query(ctx, `SELECT code, coalesce(url, '') FROM links WHERE code = ANY($1) AND domain_id = $2`, keys, domain)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var code, url string
			if err := rows.Scan(&code, &url); err != nil {
				return err
			}
			found[link.Code(code)] = url
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: existing codes: %w", translate(err))
	}
	return found, nil
}
