package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
)

var _ account.SessionStore = (*DB)(nil)

// FindSession returns a live session's data; see account.SessionStore.
func (db *DB) FindSession(ctx context.Context, token string, now time.Time) ([]byte, bool, error) {
	var data []byte
	err := db.read.QueryRowContext(ctx, `SELECT data FROM sessions WHERE token = ? AND expiry > ?`, token, now.UnixMicro()).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: find session: %w", translate(err))
	}
	return data, true, nil
}

// CommitSession stores or replaces a session; see account.SessionStore.
func (db *DB) CommitSession(ctx context.Context, token string, userID int64, data []byte, expiry time.Time) error {
	_, err := db.write.ExecContext(ctx, `
		INSERT INTO sessions (token, data, expiry, user_id) VALUES (?1, ?2, ?3, nullif(?4, 0))
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, user_id = excluded.user_id`,
		token, data, expiry.UnixMicro(), userID)
	if err != nil {
		return fmt.Errorf("sqlite: commit session: %w", translate(err))
	}
	return nil
}

// DeleteSession removes a session; see account.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, token string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", translate(err))
	}
	return nil
}

// DeleteExpiredSessions removes sessions expired by now; see
// account.SessionStore.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE expiry <= ?`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sessions: %w", translate(err))
	}
	return res.RowsAffected()
}

// AllSessions returns every live session; see account.SessionStore.
func (db *DB) AllSessions(ctx context.Context, now time.Time) (map[string][]byte, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT token, data FROM sessions WHERE expiry > ?`, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sqlite: all sessions: %w", translate(err))
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var token string
		var data []byte
		if err := rows.Scan(&token, &data); err != nil {
			return nil, fmt.Errorf("sqlite: all sessions: %w", err)
		}
		out[token] = data
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: all sessions: %w", translate(err))
	}
	return out, nil
}
