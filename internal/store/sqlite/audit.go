package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/audit"
)

var _ audit.Store = (*DB)(nil)

// AppendAudit stores an entry; see audit.Store.
func (db *DB) AppendAudit(ctx context.Context, e audit.Entry) (int64, error) {
	var detail sql.NullString
	if e.Detail != nil {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return 0, fmt.Errorf("sqlite: audit detail: %w", err)
		}
		detail = sql.NullString{String: string(b), Valid: true}
	}
	var id int64
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO audit_log (at, actor_user_id, actor_key_id, action, target_type, target_id, detail)
		VALUES (?, nullif(?, 0), nullif(?, 0), ?, ?, ?, ?) RETURNING id`,
		e.At.UnixMicro(), e.ActorUserID, e.ActorKeyID, string(e.Action), e.TargetType, e.TargetID, detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("sqlite: append audit entry: %w", translate(err))
	}
	return id, nil
}

// ListAudit returns a page of entries, newest first; see audit.Store.
func (db *DB) ListAudit(ctx context.Context, f audit.Filter, p audit.Page) ([]audit.Entry, error) {
	var where []string
	var args []any
	cond := func(c string, vs ...any) {
		where = append(where, c)
		args = append(args, vs...)
	}
	if p.Before > 0 {
		cond("id < ?", p.Before)
	}
	if f.ActorUserID != 0 {
		cond("actor_user_id = ?", f.ActorUserID)
	}
	if f.ActorKeyID != 0 {
		cond("actor_key_id = ?", f.ActorKeyID)
	}
	if a := string(f.Action); strings.HasSuffix(a, ".") {
		// A family: every action from "user." up to "user/", the string
		// after every "user.…" (the column compares bytes: BINARY).
		cond("action >= ? AND action < ?", a, a[:len(a)-1]+"/")
	} else if a != "" {
		cond("action = ?", a)
	}
	if f.TargetType != "" {
		cond("target_type = ?", f.TargetType)
		if f.TargetID != "" {
			cond("target_id = ?", f.TargetID)
		}
	}
	if !f.Since.IsZero() {
		cond("at >= ?", f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		cond("at < ?", f.Until.UnixMicro())
	}
	q := `SELECT id, at, coalesce(actor_user_id, 0), coalesce(actor_key_id, 0), action, target_type, target_id, detail FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, p.Limit)

	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit entries: %w", translate(err))
	}
	defer rows.Close()
	var entries []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var at int64
		var action string
		var detail sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.ActorUserID, &e.ActorKeyID, &action, &e.TargetType, &e.TargetID, &detail); err != nil {
			return nil, fmt.Errorf("sqlite: list audit entries: %w", err)
		}
		e.At = time.UnixMicro(at).UTC()
		e.Action = audit.Action(action)
		if detail.Valid {
			if err := json.Unmarshal([]byte(detail.String), &e.Detail); err != nil {
				return nil, fmt.Errorf("sqlite: audit entry %d: detail: %w", e.ID, err)
			}
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit entries: %w", translate(err))
	}
	return entries, nil
}
