package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/link"
)

var _ apikey.Store = (*DB)(nil)

// keyColumns are read from api_keys k joined to the owner u, if any.
const keyColumns = `k.id, k.name, k.prefix, k.hash, k.admin, k.created_at, k.revoked_at,
	coalesce(k.user_id, 0), k.expires_at, k.scopes, u.role, u.disabled_at`

const keyFrom = ` FROM api_keys k LEFT JOIN users u ON u.id = k.user_id`

// CreateKey stores k on the primary and returns it with its id; see
// apikey.Store.
func (db *DB) CreateKey(ctx context.Context, k apikey.Key) (apikey.Key, error) {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx, `
			INSERT INTO api_keys (name, prefix, hash, admin, created_at, user_id, expires_at, scopes)
			VALUES ($1, $2, $3, $4, $5, nullif($6::bigint, 0), $7, $8) RETURNING id`,
			k.Name, k.Prefix, k.Hash, k.Admin, k.CreatedAt, k.UserID, optTime(k.ExpiresAt), scopeNames(k.Scopes)).Scan(&k.ID)
	})
	if err != nil {
		return apikey.Key{}, fmt.Errorf("postgres: create key: %w", translate(err))
	}
	if k.Scopes == 0 {
		k.Scopes = apikey.LegacyScopes(k.Admin)
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
		k, err = scanKey(p.QueryRow(ctx, `SELECT `+keyColumns+keyFrom+` WHERE k.hash = $1`, hash))
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
		rows, err := p.Query(ctx, `SELECT `+keyColumns+keyFrom+` ORDER BY k.id`)
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
	var revoked, expires, disabled *time.Time
	var scopes []string
	var role *string
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.Admin, &k.CreatedAt, &revoked,
		&k.UserID, &expires, &scopes, &role, &disabled); err != nil {
		return apikey.Key{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if revoked != nil {
		k.RevokedAt = revoked.UTC()
	}
	if expires != nil {
		k.ExpiresAt = expires.UTC()
	}
	if k.Scopes = readScopes(scopes); k.Scopes == 0 {
		k.Scopes = apikey.LegacyScopes(k.Admin)
	}
	if k.UserID != 0 {
		// A user that is gone counts as disabled.
		k.OwnerAdmin = role != nil && *role == "admin"
		k.OwnerDisabled = role == nil || disabled != nil
	}
	return k, nil
}

// scopeNames returns the names of s for a text[] column; none is NULL.
func scopeNames(s apikey.Scopes) []string {
	if s == 0 {
		return nil
	}
	return s.Names()
}

// readScopes reads a text[] of scope names, skipping names this release
// does not know, which a later one may have written.
func readScopes(names []string) apikey.Scopes {
	var s apikey.Scopes
	for _, n := range names {
		if v, err := link.ParseScopes([]string{n}); err == nil {
			s |= v
		}
	}
	return s
}

// optTime is t, or NULL when t is zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
