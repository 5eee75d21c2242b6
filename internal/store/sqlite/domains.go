package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

var (
	_ link.DomainStore   = (*DB)(nil)
	_ link.DomainLinks   = (*DB)(nil)
	_ link.DomainEditor  = (*DB)(nil)
	_ link.DomainCounter = (*DB)(nil)
)

// DomainLinkCounts counts the live links on each branded domain; see
// link.DomainCounter. It reads the branded domains' index, where the
// default domain's links are not.
func (db *DB) DomainLinkCounts(ctx context.Context) (map[int64]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT domain_id, count(*) FROM links
		WHERE deleted_at IS NULL AND domain_id <> 0 GROUP BY domain_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count links by domain: %w", translate(err))
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var d, n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("sqlite: count links by domain: %w", err)
		}
		out[d] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: count links by domain: %w", translate(err))
	}
	return out, nil
}

// InsertDomain stores d and returns its id; see link.DomainStore.
func (db *DB) InsertDomain(ctx context.Context, d link.Domain) (int64, error) {
	var id int64
	err := db.write.QueryRowContext(ctx, `INSERT INTO domains (host, root_redirect, not_found_redirect, restricted, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`,
		d.Host, nullText(d.RootRedirect), nullText(d.NotFoundRedirect), d.Restricted, d.CreatedAt.UnixMicro()).Scan(&id)
	if err != nil {
		err = translate(err)
		if errors.Is(err, link.ErrCodeTaken) {
			return 0, fmt.Errorf("sqlite: insert domain %s: %w", d.Host, link.ErrDomainTaken)
		}
		return 0, fmt.Errorf("sqlite: insert domain %s: %w", d.Host, err)
	}
	return id, nil
}

// Domains lists the stored domains by host; see link.DomainStore.
func (db *DB) Domains(ctx context.Context) ([]link.Domain, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, host, root_redirect, not_found_redirect, restricted, created_at
		FROM domains ORDER BY host`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: domains: %w", translate(err))
	}
	defer rows.Close()
	var out []link.Domain
	for rows.Next() {
		var d link.Domain
		var root, notFound sql.NullString
		var created int64
		if err := rows.Scan(&d.ID, &d.Host, &root, &notFound, &d.Restricted, &created); err != nil {
			return nil, fmt.Errorf("sqlite: domains: %w", err)
		}
		d.RootRedirect, d.NotFoundRedirect = root.String, notFound.String
		d.CreatedAt = time.UnixMicro(created).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: domains: %w", translate(err))
	}
	return out, nil
}

// DeleteDomain removes the domain with id unless live links are on it;
// see link.DomainStore.
func (db *DB) DeleteDomain(ctx context.Context, id int64) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var live bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM links WHERE domain_id = ? AND deleted_at IS NULL)`, id).Scan(&live); err != nil {
			return err
		}
		if live {
			return link.ErrDomainInUse
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = link.ErrDomainNotFound
			}
			return err
		}
		return nil
	})
	if err != nil {
		var le *link.Error
		if errors.As(err, &le) {
			return err
		}
		return fmt.Errorf("sqlite: delete domain %d: %w", id, translate(err))
	}
	return nil
}
