package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/audit"
)

var _ audit.Store = (*DB)(nil)

// AppendAudit stores an entry on the primary; see audit.Store.
func (db *DB) AppendAudit(ctx context.Context, e audit.Entry) (int64, error) {
	var detail []byte
	if e.Detail != nil {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return 0, fmt.Errorf("postgres: audit detail: %w", err)
		}
	}
	var id int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx, `
			INSERT INTO audit_log (at, actor_user_id, actor_key_id, action, target_type, target_id, detail)
			VALUES ($1, nullif($2::bigint, 0), nullif($3::bigint, 0), $4, $5, $6, $7::jsonb) RETURNING id`,
			e.At, e.ActorUserID, e.ActorKeyID, string(e.Action), e.TargetType, e.TargetID, detail).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: append audit entry: %w", translate(err))
	}
	return id, nil
}

// ListAudit returns a page of entries, newest first, from the primary; see
// audit.Store.
func (db *DB) ListAudit(ctx context.Context, f audit.Filter, p audit.Page) ([]audit.Entry, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if p.Before > 0 {
		where = append(where, "id < "+arg(p.Before))
	}
	if f.ActorUserID != 0 {
		where = append(where, "actor_user_id = "+arg(f.ActorUserID))
	}
	if f.ActorKeyID != 0 {
		where = append(where, "actor_key_id = "+arg(f.ActorKeyID))
	}
	if a := string(f.Action); strings.HasSuffix(a, ".") {
		// A family: every action between "user." and "user/", the next
		// string after every "user.…".
		where = append(where, "action >= "+arg(a)+" AND action < "+arg(a[:len(a)-1]+"/"))
	} else if a != "" {
		where = append(where, "action = "+arg(a))
	}
	if f.TargetType != "" {
		where = append(where, "target_type = "+arg(f.TargetType))
		if f.TargetID != "" {
			where = append(where, "target_id = "+arg(f.TargetID))
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(f.Until))
	}
	q := `SELECT id, at, coalesce(actor_user_id, 0), coalesce(actor_key_id, 0), action, target_type, target_id, detail FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + arg(p.Limit)

	var entries []audit.Entry
	err := db.run(ctx, db.primary, func(ctx context.Context, pool *pgxpool.Pool) error {
		rows, err := pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		entries, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (audit.Entry, error) {
			var e audit.Entry
			var action string
			var detail []byte
			if err := row.Scan(&e.ID, &e.At, &e.ActorUserID, &e.ActorKeyID, &action, &e.TargetType, &e.TargetID, &detail); err != nil {
				return audit.Entry{}, err
			}
			e.Action = audit.Action(action)
			e.At = e.At.UTC()
			if detail != nil {
				if err := json.Unmarshal(detail, &e.Detail); err != nil {
					return audit.Entry{}, fmt.Errorf("entry %d: detail: %w", e.ID, err)
				}
			}
			return e, nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit entries: %w", translate(err))
	}
	return entries, nil
}
