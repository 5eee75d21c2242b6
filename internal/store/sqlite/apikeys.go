package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/link"
)

var _ apikey.Store = (*DB)(nil)

// keyColumns are read from api_keys k joined to the owner u, if any.
const keyColumns = `k.id, k.name, k.prefix, k.hash, k.admin, k.created_at, k.revoked_at,
	coalesce(k.user_id, 0), k.expires_at, k.scopes, u.role, u.disabled_at
	FROM api_keys k LEFT JOIN users u ON u.id = k.user_id`

// CreateKey stores k and returns it with its id; see apikey.Store.
func (db *DB) CreateKey(ctx context.Context, k apikey.Key) (apikey.Key, error) {
	var expires, scopes any
	if !k.ExpiresAt.IsZero() {
		expires = k.ExpiresAt.UnixMicro()
	}
	if k.Scopes != 0 {
		scopes = k.Scopes.String()
	}
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO api_keys (name, prefix, hash, admin, created_at, user_id, expires_at, scopes)
		VALUES (?, ?, ?, ?, ?, nullif(?, 0), ?, ?) RETURNING id`,
		k.Name, k.Prefix, k.Hash, k.Admin, k.CreatedAt.UnixMicro(), k.UserID, expires, scopes).Scan(&k.ID)
	if err != nil {
		return apikey.Key{}, fmt.Errorf("sqlite: create key: %w", translate(err))
	}
	if k.Scopes == 0 {
		k.Scopes = apikey.LegacyScopes(k.Admin)
	}
	return k, nil
}

// KeyByHash finds a key by the hash of its secret; see apikey.Store.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (apikey.Key, error) {
	row := db.read.QueryRowContext(ctx, `SELECT `+keyColumns+` WHERE k.hash = ?`, hash)
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
	rows, err := db.read.QueryContext(ctx, `SELECT `+keyColumns+` ORDER BY k.id`)
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
	var revoked, expires, disabled sql.NullInt64
	var scopes, role sql.NullString
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.Admin, &created, &revoked,
		&k.UserID, &expires, &scopes, &role, &disabled); err != nil {
		return apikey.Key{}, err
	}
	k.CreatedAt = time.UnixMicro(created).UTC()
	if revoked.Valid {
		k.RevokedAt = time.UnixMicro(revoked.Int64).UTC()
	}
	if expires.Valid {
		k.ExpiresAt = time.UnixMicro(expires.Int64).UTC()
	}
	// Names this release does not know, written by a later one, are
	// skipped.
	for _, n := range strings.Fields(scopes.String) {
		if s, err := link.ParseScopes([]string{n}); err == nil {
			k.Scopes |= s
		}
	}
	if k.Scopes == 0 {
		k.Scopes = apikey.LegacyScopes(k.Admin)
	}
	if k.UserID != 0 {
		// A user that is gone counts as disabled.
		k.OwnerAdmin = role.Valid && role.String == "admin"
		k.OwnerDisabled = !role.Valid || disabled.Valid
	}
	return k, nil
}
