package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/shortlinks/shortlinks/internal/link"
)

// existingChunk keeps each query under SQLite's limit on bound parameters.
const existingChunk = 500

// Existing returns, for each of codes that has ever been used on domain,
// the URL of its live link, or "" when the link was deleted.
func (db *DB) Existing(ctx context.Context, domain int64, codes []link.Code) (map[link.Code]string, error) {
	found := make(map[link.Code]string)
	for len(codes) > 0 {
		chunk := codes[:min(len(codes), existingChunk)]
		codes = codes[len(chunk):]
		args := make([]any, 1, len(chunk)+1)
		args[0] = domain
		for _, c := range chunk {
			args = append(args, string(c))
		}
		query := `SELECT code, url, deleted_at IS NOT NULL FROM links WHERE domain_id = ? AND code IN (?` + strings.Repeat(",?", len(chunk)-1) + `)`
		rows, err := db.write.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: existing codes: %w", translate(err))
		}
		for rows.Next() {
			var code, url string
			var deleted bool
			if err := rows.Scan(&code, &url, &deleted); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: existing codes: %w", err)
			}
			if deleted {
				url = ""
			}
			found[link.Code(code)] = url
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: existing codes: %w", translate(err))
		}
	}
	return found, nil
}
