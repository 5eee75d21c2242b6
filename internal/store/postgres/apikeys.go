package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/apikey"
)

var _ apikey.Store = (*DB)(nil)

const keyColumns = `id, name, prefix, hash, admin, created_at, revoked_at`

// CreateKey stores k on the primary and returns it with its id; see
// apikey.Store.
func (db *DB) CreateKey(ctx context.Context, k apikey.Key) (apikey.Key, error) {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx,
			`INSERT INTO api_keys (name, prefix, hash, admin, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			k.Name, k.Prefix, k.Hash, k.Admin, k.CreatedAt).Scan(&k.ID)
	})
	if err != nil {
		return apikey.Key{}, fmt.Errorf("postgres: create key: %w", translate(err))
	}
	return k, nil
}

// KeyByHash finds a key by the hash of its secret, on a replica when there
// is one and on the primary when the replica lacks it, so a new key works at
// once; see apikey.Store. A revocation reaches a replica after its
// replication delay.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (apikey.Key, error) {
	var k apikey.Key
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		var err error
		k, err = scanKey(p.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return apikey.Key{}, apikey.ErrNotFound
	}
	if err != nil {
		return apikey.Key{}, fmt.Errorf("postgres: key by hash: %w", translate(err))
	}
	return k, nil
}

// ListKeys returns every key in creation order, from the primary: it serves
// administrators, who expect to see the key they have just made; see
// apikey.Store.
func (db *DB) ListKeys(ctx context.Context) ([]apikey.Key, error) {
	var keys []apikey.Key
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		rows, err := p.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY id`)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (apikey.Key, error) { return scanKey(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list keys: %w", translate(err))
	}
	return keys, nil
}

// RevokeKey marks a key revoked, keeping the first revocation time; see
// apikey.Store.
func (db *DB) RevokeKey(ctx context.Context, id int64, at time.Time) error {
	var n int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		tag, err := p.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, at)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: revoke key %d: %w", id, translate(err))
	}
	if n == 0 {
		return apikey.ErrNotFound
	}
	return nil
}

func scanKey(row pgx.Row) (apikey.Key, error) {
	var k apikey.Key
	var revoked *time.Time
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.Admin, &k.CreatedAt, &revoked); err != nil {
		return apikey.Key{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if revoked != nil {
		k.RevokedAt = revoked.UTC()
	}
	return k, nil
}
