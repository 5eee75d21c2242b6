package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
)

var _ apikey.Store = (*DB)(nil)

// CreateKey stores k and returns it with its id; see apikey.Store.
func (db *DB) CreateKey(ctx context.Context, k apikey.Key) (apikey.Key, error) {
	err := db.write.QueryRowContext(ctx,
		`INSERT INTO api_keys (name, prefix, hash, admin, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		k.Name, k.Prefix, k.Hash, k.Admin, k.CreatedAt.UnixMicro()).Scan(&k.ID)
	if err != nil {
		return apikey.Key{}, fmt.Errorf("sqlite: create key: %w", translate(err))
	}
	return k, nil
}

// KeyByHash finds a key by the hash of its secret; see apikey.Store.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (apikey.Key, error) {
	row := db.read.QueryRowContext(ctx,
		`SELECT id, name, prefix, hash, admin, created_at, revoked_at FROM api_keys WHERE hash = ?`, hash)
	k, err := scanKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return apikey.Key{}, apikey.ErrNotFound
	}
	if err != nil {
		return apikey.Key{}, fmt.Errorf("sqlite: key by hash: %w", translate(err))
	}
	return k, nil
}

// ListKeys returns every key in creation order; see apikey.Store.
func (db *DB) ListKeys(ctx context.Context) ([]apikey.Key, error) {
	rows, err := db.read.QueryContext(ctx,
		`SELECT id, name, prefix, hash, admin, created_at, revoked_at FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", translate(err))
	}
	defer rows.Close()
	var keys []apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RevokeKey marks a key revoked; see apikey.Store.
func (db *DB) RevokeKey(ctx context.Context, id int64, at time.Time) error {
	var exists bool
	err := db.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ?)`, id).Scan(&exists)
	if err != nil {
		return fmt.Errorf("sqlite: revoke key %d: %w", id, translate(err))
	}
	if !exists {
		return apikey.ErrNotFound
	}
	if _, err := db.write.ExecContext(ctx,
		`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, at.UnixMicro(), id); err != nil {
		return fmt.Errorf("sqlite: revoke key %d: %w", id, translate(err))
	}
	return nil
}

func scanKey(row interface{ Scan(...any) error }) (apikey.Key, error) {
	var k apikey.Key
	var created int64
	var revoked sql.NullInt64
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.Admin, &created, &revoked); err != nil {
		return apikey.Key{}, err
	}
	k.CreatedAt = time.UnixMicro(created).UTC()
	if revoked.Valid {
		k.RevokedAt = time.UnixMicro(revoked.Int64).UTC()
	}
	return k, nil
}
