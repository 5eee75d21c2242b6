package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/report"
)

var _ report.Store = (*DB)(nil)

const reportColumns = `id, code, reason, details, contact, created_at, resolved_at,
	coalesce(resolution_note, ''), coalesce(resolved_by_user_id, 0), coalesce(resolved_by_key_id, 0), domain_id`

// CreateReport stores a report on the primary; see report.Store.
func (db *DB) CreateReport(ctx context.Context, r report.Report) (report.Report, error) {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx, `
			INSERT INTO reports (code, reason, details, contact, created_at, domain_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			string(r.Code), string(r.Reason), r.Details, r.Contact, r.CreatedAt, r.Domain).Scan(&r.ID)
	})
	if err != nil {
		return report.Report{}, fmt.Errorf("postgres: create report: %w", translate(err))
	}
	return r, nil
}

// ListReports returns a page of reports, newest first, from the primary
// (an admin who just resolved one expects to see it so); see
// report.Store.
func (db *DB) ListReports(ctx context.Context, status report.Status, before int64, limit int) ([]report.Report, error) {
	q := `SELECT ` + reportColumns + ` FROM reports WHERE ($1 = 0 OR id < $1)`
	switch status {
	case report.Open:
		q += ` AND resolved_at IS NULL`
	case report.Resolved:
		q += ` AND resolved_at IS NOT NULL`
	}
	q += ` ORDER BY id DESC LIMIT $2`
	var out []report.Report
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		rows, err := p.Query(ctx, q, before, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (report.Report, error) { return scanReport(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list reports: %w", translate(err))
	}
	return out, nil
}

// ResolveReport marks a report resolved on the primary; see report.Store.
// The row lock the UPDATE takes makes a second resolution at once find
// the report resolved.
func (db *DB) ResolveReport(ctx context.Context, id int64, res report.Resolution) (report.Report, error) {
	var r report.Report
	var exists bool
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		var err error
		r, err = scanReport(p.QueryRow(ctx, `
			UPDATE reports SET resolved_at = $2, resolution_note = $3,
				resolved_by_user_id = nullif($4::bigint, 0), resolved_by_key_id = nullif($5::bigint, 0)
			WHERE id = $1 AND resolved_at IS NULL RETURNING `+reportColumns,
			id, res.At, res.Note, res.ByUser, res.ByKey))
		if errors.Is(err, pgx.ErrNoRows) {
			return p.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM reports WHERE id = $1)`, id).Scan(&exists)
		}
		return err
	})
	switch {
	case err != nil:
		return report.Report{}, fmt.Errorf("postgres: resolve report %d: %w", id, translate(err))
	case r.ID == 0 && exists:
		return report.Report{}, report.ErrAlreadyResolved
	case r.ID == 0:
		return report.Report{}, report.ErrNotFound
	}
	return r, nil
}

func scanReport(row pgx.Row) (report.Report, error) {
	var r report.Report
	var code, reason string
	var resolved *time.Time
	if err := row.Scan(&r.ID, &code, &reason, &r.Details, &r.Contact, &r.CreatedAt, &resolved,
		&r.Note, &r.ResolvedByUser, &r.ResolvedByKey, &r.Domain); err != nil {
		return report.Report{}, err
	}
	r.Code, r.Reason = link.Code(code), report.Reason(reason)
	r.CreatedAt = r.CreatedAt.UTC()
	if resolved != nil {
		r.ResolvedAt = resolved.UTC()
	}
	return r, nil
}
