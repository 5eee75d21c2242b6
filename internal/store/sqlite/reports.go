package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/report"
)

var _ report.Store = (*DB)(nil)

const reportColumns = `id, code, reason, details, contact, created_at, resolved_at,
	coalesce(resolution_note, ''), coalesce(resolved_by_user_id, 0), coalesce(resolved_by_key_id, 0), domain_id FROM reports`

// CreateReport stores a report; see report.Store.
func (db *DB) CreateReport(ctx context.Context, r report.Report) (report.Report, error) {
	err := db.write.QueryRowContext(ctx, `
		INSERT INTO reports (code, reason, details, contact, created_at, domain_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		string(r.Code), string(r.Reason), r.Details, r.Contact, r.CreatedAt.UnixMicro(), r.Domain).Scan(&r.ID)
	if err != nil {
		return report.Report{}, fmt.Errorf("sqlite: create report: %w", translate(err))
	}
	return r, nil
}

// ListReports returns a page of reports, newest first; see report.Store.
func (db *DB) ListReports(ctx context.Context, status report.Status, before int64, limit int) ([]report.Report, error) {
	q := `SELECT ` + reportColumns + ` WHERE (? = 0 OR id < ?)`
	switch status {
	case report.Open:
		q += ` AND resolved_at IS NULL`
	case report.Resolved:
		q += ` AND resolved_at IS NOT NULL`
	}
	q += ` ORDER BY id DESC LIMIT ?`
	rows, err := db.read.QueryContext(ctx, q, before, before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list reports: %w", translate(err))
	}
	defer rows.Close()
	var out []report.Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list reports: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list reports: %w", translate(err))
	}
	return out, nil
}

// ResolveReport marks a report resolved; see report.Store. The UPDATE
// takes the write lock, so of two resolutions at once only one finds the
// report open.
func (db *DB) ResolveReport(ctx context.Context, id int64, res report.Resolution) (report.Report, error) {
	row := db.write.QueryRowContext(ctx, `
		UPDATE reports SET resolved_at = ?, resolution_note = ?, resolved_by_user_id = nullif(?, 0), resolved_by_key_id = nullif(?, 0)
		WHERE id = ? AND resolved_at IS NULL RETURNING `+reportColumns[:len(reportColumns)-len(" FROM reports")],
		res.At.UnixMicro(), res.Note, res.ByUser, res.ByKey, id)
	r, err := scanReport(row)
	if errors.Is(err, sql.ErrNoRows) {
		var exists bool
		if err := db.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM reports WHERE id = ?)`, id).Scan(&exists); err != nil {
			return report.Report{}, fmt.Errorf("sqlite: resolve report %d: %w", id, translate(err))
		}
		if exists {
			return report.Report{}, report.ErrAlreadyResolved
		}
		return report.Report{}, report.ErrNotFound
	}
	if err != nil {
		return report.Report{}, fmt.Errorf("sqlite: resolve report %d: %w", id, translate(err))
	}
	return r, nil
}

func scanReport(row interface{ Scan(...any) error }) (report.Report, error) {
	var r report.Report
	var code, reason string
	var created int64
	var resolved sql.NullInt64
	if err := row.Scan(&r.ID, &code, &reason, &r.Details, &r.Contact, &created, &resolved,
		&r.Note, &r.ResolvedByUser, &r.ResolvedByKey, &r.Domain); err != nil {
		return report.Report{}, err
	}
	r.Code, r.Reason = link.Code(code), report.Reason(reason)
	r.CreatedAt = time.UnixMicro(created).UTC()
	if resolved.Valid {
		r.ResolvedAt = time.UnixMicro(resolved.Int64).UTC()
	}
	return r, nil
}
