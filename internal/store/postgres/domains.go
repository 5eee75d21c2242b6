package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/link"
)

var (
	_ link.DomainStore  = (*DB)(nil)
	_ link.DomainLinks  = (*DB)(nil)
	_ link.DomainEditor = (*DB)(nil)
)

// InsertDomain stores d on the primary and returns its id; see
// link.DomainStore.
func (db *DB) InsertDomain(ctx context.Context, d link.Domain) (int64, error) {
	var id int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return p.QueryRow(ctx, `INSERT INTO domains (host, root_redirect, not_found_redirect, restricted, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			d.Host, nullText(d.RootRedirect), nullText(d.NotFoundRedirect), d.Restricted, d.CreatedAt).Scan(&id)
	})
	if err != nil {
		err = translate(err)
		if errors.Is(err, link.ErrCodeTaken) {
			return 0, fmt.Errorf("postgres: insert domain %s: %w", d.Host, link.ErrDomainTaken)
		}
		return 0, fmt.Errorf("postgres: insert domain %s: %w", d.Host, err)
	}
	return id, nil
}

// Domains lists the stored domains by host, from the primary: a domain
// just added is served at once; see link.DomainStore.
func (db *DB) Domains(ctx context.Context) ([]link.Domain, error) {
	var out []link.Domain
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		rows, err := p.Query(ctx, `SELECT id, host, root_redirect, not_found_redirect, restricted, created_at
			FROM domains ORDER BY host`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (link.Domain, error) {
			var d link.Domain
			var root, notFound *string
			err := r.Scan(&d.ID, &d.Host, &root, &notFound, &d.Restricted, &d.CreatedAt)
			d.RootRedirect, d.NotFoundRedirect, d.CreatedAt = deref(root), deref(notFound), d.CreatedAt.UTC()
			return d, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: domains: %w", translate(err))
	}
	return out, nil
}

var _ link.DomainCounter = (*DB)(nil)

// DomainLinkCounts counts the live links on each branded domain, on a
// replica if one answers; see link.DomainCounter. It reads the partial
// index links_domain_newest, which the default domain's links are not in.
func (db *DB) DomainLinkCounts(ctx context.Context) (map[int64]int64, error) {
	out := map[int64]int64{}
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		rows, err := p.Query(ctx, `SELECT domain_id, count(*) FROM links
			WHERE deleted_at IS NULL AND domain_id <> 0 GROUP BY domain_id`)
		if err != nil {
			return err
		}
		var d, n int64
		_, err = pgx.ForEachRow(rows, []any{&d, &n}, func() error { out[d] = n; return nil })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: count links by domain: %w", translate(err))
	}
	return out, nil
}

// DeleteDomain removes the domain with id on the primary unless live links
// are on it; see link.DomainStore. The domain's row is locked first, so a
// concurrent removal waits.
func (db *DB) DeleteDomain(ctx context.Context, id int64) error {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
			var found bool
			if err := tx.QueryRow(ctx, `SELECT true FROM domains WHERE id = $1 FOR UPDATE`, id).Scan(&found); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return link.ErrDomainNotFound
				}
				return err
			}
			var live bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM links WHERE domain_id = $1 AND deleted_at IS NULL)`, id).Scan(&live); err != nil {
				return err
			}
			if live {
				return link.ErrDomainInUse
			}
			_, err := tx.Exec(ctx, `DELETE FROM domains WHERE id = $1`, id)
			return err
		})
	})
	if err != nil {
		var le *link.Error
		if errors.As(err, &le) {
			return err
		}
		return fmt.Errorf("postgres: delete domain %d: %w", id, translate(err))
	}
	return nil
}
