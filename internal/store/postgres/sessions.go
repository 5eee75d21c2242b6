package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/account"
)

var _ account.SessionStore = (*DB)(nil)

// Sessions live on the primary only: a session must be found on the
// request after the one that made it, and not found after sign-out,
// whatever the replicas' delay.

// FindSession returns a live session's data; see account.SessionStore.
func (db *DB) FindSession(ctx context.Context, token string, now time.Time) ([]byte, bool, error) {
	var data []byte
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx, `SELECT data FROM sessions WHERE token = $1 AND expiry > $2`, token, now).Scan(&data)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("postgres: find session: %w", translate(err))
	}
	return data, true, nil
}

// CommitSession stores or replaces a session; see account.SessionStore.
func (db *DB) CommitSession(ctx context.Context, token string, userID int64, data []byte, expiry time.Time) error {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		_, err := p.Exec(ctx, `
			INSERT INTO sessions (token, data, expiry, user_id) VALUES ($1, $2, $3, nullif($4::bigint, 0))
			ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, user_id = excluded.user_id`,
			token, data, expiry, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: commit session: %w", translate(err))
	}
	return nil
}

// DeleteSession removes a session; see account.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, token string) error {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		_, err := p.Exec(ctx, `DELETE FROM sessions WHERE token = $1`, token)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete session: %w", translate(err))
	}
	return nil
}

// DeleteExpiredSessions removes sessions expired by now; see
// account.SessionStore.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		tag, err := p.Exec(ctx, `DELETE FROM sessions WHERE expiry <= $1`, now)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired sessions: %w", translate(err))
	}
	return n, nil
}

// AllSessions returns every live session; see account.SessionStore.
func (db *DB) AllSessions(ctx context.Context, now time.Time) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		rows, err := p.Query(ctx, `SELECT token, data FROM sessions WHERE expiry > $1`, now)
		if err != nil {
			return err
		}
		var token string
		var data []byte
		_, err = pgx.ForEachRow(rows, []any{&token, &data}, func() error {
			out[token] = data
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: all sessions: %w", translate(err))
	}
	return out, nil
}
