package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/link"
)

var (
	_ link.Store  = (*DB)(nil)
	_ link.Lister = (*DB)(nil)
	_ link.Editor = (*DB)(nil)
)

// linkColumns are the columns a link is read from, in scanLink's order.
// Tags are in link_tags.
const linkColumns = `id, code, url, created_at, expires_at, owner_id, user_id, title, disabled_at, disabled_reason, ` +
	`valid_from, max_visits, password_hash, forward_query, rules, domain_id`

// The queries on the redirect path, named so that tests can check their
// plans. getSQL stays one probe of links_pkey: the options are columns of
// the same row, and tags, which the redirect never needs, are left out.
const (
	getSQL    = `SELECT ` + linkColumns + ` FROM links WHERE code = $1 AND domain_id = 0 AND deleted_at IS NULL`
	getOnSQL  = `SELECT ` + linkColumns + ` FROM links WHERE code = $1 AND domain_id = $2 AND deleted_at IS NULL`
	insertSQL = `INSERT INTO links (code, url, created_at, expires_at, owner_id, user_id, title, disabled_at, disabled_reason, ` +
		`valid_from, max_visits, password_hash, forward_query, rules, domain_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`
)

// insertColumns are the columns insertArgs gives values for.
var insertColumns = []string{"code", "url", "created_at", "expires_at", "owner_id", "user_id", "title", "disabled_at",
	"disabled_reason", "valid_from", "max_visits", "password_hash", "forward_query", "rules", "domain_id"}

func insertArgs(l link.Link) ([]any, error) {
	rules, err := rulesJSON(l.Rules)
	if err != nil {
		return nil, err
	}
	return []any{string(l.Code), l.URL, l.CreatedAt, nullTime(l.ExpiresAt), nullID(l.Owner), nullID(l.UserID),
		nullText(l.Title), nullTime(l.DisabledAt), nullText(l.DisabledReason), nullTime(l.ValidFrom), nullID(l.MaxVisits),
		nullText(l.PasswordHash), l.ForwardQuery, rules, l.Domain}, nil
}

// scanLink reads the linkColumns of one row.
func scanLink(row pgx.Row) (link.Link, error) {
	var l link.Link
	var expires, disabled, validFrom *time.Time
	var owner, user, maxVisits *int64
	var title, reason, hash *string
	var rules []byte
	if err := row.Scan(&l.ID, &l.Code, &l.URL, &l.CreatedAt, &expires, &owner, &user, &title, &disabled, &reason,
		&validFrom, &maxVisits, &hash, &l.ForwardQuery, &rules, &l.Domain); err != nil {
		return link.Link{}, err
	}
	l.CreatedAt = l.CreatedAt.UTC()
	l.ExpiresAt, l.DisabledAt, l.ValidFrom = utc(expires), utc(disabled), utc(validFrom)
	l.Owner, l.UserID, l.MaxVisits = deref(owner), deref(user), deref(maxVisits)
	l.Title, l.DisabledReason, l.PasswordHash = deref(title), deref(reason), deref(hash)
	if len(rules) > 0 {
		if err := json.Unmarshal(rules, &l.Rules); err != nil {
			return link.Link{}, fmt.Errorf("rules of %s: %w", l.Code, err)
		}
	}
	return l, nil
}

// Insert stores l and its tags on the primary; see link.Store.
func (db *DB) Insert(ctx context.Context, l link.Link) (int64, error) {
	args, err := insertArgs(l)
	if err != nil {
		return 0, fmt.Errorf("postgres: insert %s: %w", l.Code, err)
	}
	var id int64
	err = db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		if len(l.Tags) == 0 {
			return p.QueryRow(ctx, insertSQL, args...).Scan(&id)
		}
		return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, insertSQL, args...).Scan(&id); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO link_tags (link_id, tag) SELECT $1, unnest($2::text[])`, id, l.Tags)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: insert %s: %w", l.Code, translate(err))
	}
	return id, nil
}

// idBlockSQL draws $1 ids from the sequence of links.id. The sequence is
// named once, not once per id: pg_get_serial_sequence per row costs more
// than the nextval itself.
const idBlockSQL = `SELECT nextval(q.seq) FROM (SELECT pg_get_serial_sequence('links', 'id')::regclass AS seq) q, generate_series(1, $1)`

// InsertBatch stores links on the primary in one COPY, for bulk loading,
// and their tags and imported clicks in the same transaction. The batch is
// all or nothing: if any code is already taken, or appears twice in links,
// nothing is stored and the error wraps link.ErrCodeTaken. Waiting for a
// connection is bounded by the database timeout; the copy itself only by
// ctx, since its length is the caller's choice.
func (db *DB) InsertBatch(ctx context.Context, links []link.Link) error {
	if len(links) == 0 {
		return nil
	}
	var conn *pgxpool.Conn
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		var err error
		conn, err = p.Acquire(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: insert batch: %w", translate(err))
	}
	defer conn.Release()
	// Links with tags or imported clicks need their ids for those rows.
	// COPY returns none, so the batch draws them from the id column's own
	// sequence first, one block for the batch, and copies them in with
	// the links: tags and clicks then go in by COPY too, with no lookup of
	// the new links by code (which costs as much as the copy itself).
	var related, tagged int
	for _, l := range links {
		if len(l.Tags) > 0 || l.ImportedClicks > 0 {
			related++
			tagged += len(l.Tags)
		}
	}
	columns := insertColumns
	var ids []int64
	if related > 0 {
		columns = append([]string{"id"}, insertColumns...)
	}
	rows := pgx.CopyFromSlice(len(links), func(i int) ([]any, error) {
		args, err := insertArgs(links[i])
		if ids == nil || err != nil {
			return args, err
		}
		return append([]any{ids[i]}, args...), nil
	})
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return err
		}
		if related > 0 {
			idRows, err := tx.Query(ctx, idBlockSQL, len(links))
			if err != nil {
				return err
			}
			if ids, err = pgx.CollectRows(idRows, pgx.RowTo[int64]); err != nil {
				return err
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"links"}, columns, rows); err != nil {
			return err
		}
		if related == 0 {
			return nil
		}
		tags := make([][]any, 0, tagged)
		clicks := make([][]any, 0, related)
		for i, l := range links {
			for _, t := range l.Tags {
				tags = append(tags, []any{ids[i], t})
			}
			if l.ImportedClicks > 0 {
				// The time of the last of those clicks is not known: the
				// epoch reads as "none", and the first click here
				// replaces it. The links are new, so no row is there yet.
				clicks = append(clicks, []any{ids[i], l.ImportedClicks, int64(0), time.Unix(0, 0).UTC()})
			}
		}
		if len(tags) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"link_tags"}, []string{"link_id", "tag"}, pgx.CopyFromRows(tags)); err != nil {
				return err
			}
		}
		if len(clicks) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"clicks_total"}, []string{"link_id", "humans", "bots", "last_click"}, pgx.CopyFromRows(clicks)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if unreachable(err) && ctx.Err() == nil {
			db.primary.down(err)
		}
		return fmt.Errorf("postgres: insert batch of %d: %w", len(links), translate(err))
	}
	return nil
}

// Get returns the live link for c, without its tags, from a replica when
// there is one; see link.Store. A code that the replica lacks is looked up
// on the primary, so a link resolves as soon as it is created.
func (db *DB) Get(ctx context.Context, c link.Code) (link.Link, error) {
	var l link.Link
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		var err error
		l, err = scanLink(p.QueryRow(ctx, getSQL, string(c)))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return link.Link{}, link.ErrNotFound
	}
	if err != nil {
		return link.Link{}, fmt.Errorf("postgres: get %s: %w", c, translate(err))
	}
	return l, nil
}

// GetOn returns the live link for c on domain d, without its tags; see
// link.DomainLinks and Get.
func (db *DB) GetOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	if d == link.DefaultDomain {
		return db.Get(ctx, c)
	}
	var l link.Link
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		var err error
		l, err = scanLink(p.QueryRow(ctx, getOnSQL, string(c), d))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return link.Link{}, link.ErrNotFound
	}
	if err != nil {
		return link.Link{}, fmt.Errorf("postgres: get %s on domain %d: %w", c, d, translate(err))
	}
	return l, nil
}

// Find returns the live link for c with its tags, from a replica when there
// is one; see link.Editor.
func (db *DB) Find(ctx context.Context, c link.Code) (link.Link, error) {
	return db.FindOn(ctx, link.DefaultDomain, c)
}

// FindOn returns the live link for c on domain d with its tags; see
// link.DomainEditor.
func (db *DB) FindOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	var l link.Link
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		var err error
		if l, err = scanLink(p.QueryRow(ctx, getOnSQL, string(c), d)); err != nil {
			return err
		}
		l.Tags, err = tagsOf(ctx, p, l.ID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return link.Link{}, link.ErrNotFound
	}
	if err != nil {
		return link.Link{}, fmt.Errorf("postgres: find %s: %w", c, translate(err))
	}
	return l, nil
}

type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func tagsOf(ctx context.Context, q rowsQuerier, id int64) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT tag FROM link_tags WHERE link_id = $1 ORDER BY tag`, id)
	if err != nil {
		return nil, err
	}
	tags, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if len(tags) == 0 {
		tags = nil
	}
	return tags, err
}

// addTags fills in the tags of links.
func addTags(ctx context.Context, q rowsQuerier, links []link.Link) error {
	if len(links) == 0 {
		return nil
	}
	byID := make(map[int64]int, len(links))
	ids := make([]int64, len(links))
	for i, l := range links {
		byID[l.ID] = i
		ids[i] = l.ID
	}
	rows, err := q.Query(ctx, `SELECT link_id, tag FROM link_tags WHERE link_id = ANY($1) ORDER BY link_id, tag`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return err
		}
		i := byID[id]
		links[i].Tags = append(links[i].Tags, tag)
	}
	return rows.Err()
}

// Update edits the live link for c on the primary, holding its row lock
// from read to write; see link.Editor.
func (db *DB) Update(ctx context.Context, c link.Code, edit func(*link.Link) error) (before, after link.Link, err error) {
	return db.UpdateOn(ctx, link.DefaultDomain, c, edit)
}

// UpdateOn edits the live link for c on domain d on the primary; see
// link.DomainEditor.
func (db *DB) UpdateOn(ctx context.Context, d int64, c link.Code, edit func(*link.Link) error) (before, after link.Link, err error) {
	err = db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
			var err error
			before, err = scanLink(tx.QueryRow(ctx, getOnSQL+` FOR UPDATE`, string(c), d))
			if errors.Is(err, pgx.ErrNoRows) {
				return link.ErrNotFound
			}
			if err != nil {
				return err
			}
			if before.Tags, err = tagsOf(ctx, tx, before.ID); err != nil {
				return err
			}
			after = before
			after.Tags = append([]string(nil), before.Tags...)
			after.Rules = append([]link.Rule(nil), before.Rules...)
			if err := edit(&after); err != nil {
				return err
			}
			rules, err := rulesJSON(after.Rules)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE links SET url = $2, expires_at = $3, user_id = $4, title = $5, disabled_at = $6,
				disabled_reason = $7, valid_from = $8, max_visits = $9, password_hash = $10, forward_query = $11, rules = $12
				WHERE id = $1`,
				before.ID, after.URL, nullTime(after.ExpiresAt), nullID(after.UserID), nullText(after.Title), nullTime(after.DisabledAt),
				nullText(after.DisabledReason), nullTime(after.ValidFrom), nullID(after.MaxVisits), nullText(after.PasswordHash),
				after.ForwardQuery, rules); err != nil {
				return err
			}
			if slices.Equal(before.Tags, after.Tags) {
				return nil
			}
			if _, err := tx.Exec(ctx, `DELETE FROM link_tags WHERE link_id = $1`, before.ID); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO link_tags (link_id, tag) SELECT $1, unnest($2::text[])`, before.ID, after.Tags)
			return err
		})
	})
	if err != nil {
		var le *link.Error
		if errors.As(err, &le) {
			return link.Link{}, link.Link{}, err
		}
		return link.Link{}, link.Link{}, fmt.Errorf("postgres: update %s: %w", c, translate(err))
	}
	after.ID, after.Code, after.CreatedAt, after.Owner, after.Domain = before.ID, before.Code, before.CreatedAt, before.Owner, before.Domain
	return before, after, nil
}

// Delete removes the link for c and its tags on the primary, keeping its
// code reserved; see link.Store.
func (db *DB) Delete(ctx context.Context, c link.Code) error {
	return db.DeleteOn(ctx, link.DefaultDomain, c)
}

// DeleteOn removes the link for c on domain d and its tags on the
// primary, keeping its code reserved there; see link.DomainLinks.
func (db *DB) DeleteOn(ctx context.Context, d int64, c link.Code) error {
	var n int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		tag, err := p.Exec(ctx, `WITH gone AS (
				UPDATE links SET url = NULL, deleted_at = now() WHERE code = $1 AND domain_id = $2 AND deleted_at IS NULL RETURNING id
			), untag AS (
				DELETE FROM link_tags WHERE link_id IN (SELECT id FROM gone)
			)
			SELECT FROM gone`, string(c), d)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete %s: %w", c, translate(err))
	}
	if n == 0 {
		return link.ErrNotFound
	}
	return nil
}

// hostExpr is the host and port of a stored URL, which NormalizeURL writes
// as scheme://host[:port] followed by nothing or one of / ? #.
const hostExpr = `substring(url from '^[a-z]+://([^/?#]*)')`

// hostMatch matches a hostExpr (h) that is host n or under it, with or
// without a port. n is a lower-case host name with LIKE's wildcards
// escaped (see hostArgs).
func hostMatch(n int) string {
	return fmt.Sprintf(`(h = $%[1]d OR h LIKE '%%.' || $%[2]d OR h LIKE $%[2]d || ':%%' OR h LIKE '%%.' || $%[2]d || ':%%')`, n, n+1)
}

func hostArgs(host string) []any { return []any{host, escapeLike(host)} }

// listSQL builds the query for q; without filters it reads one range of
// links_newest, of links_owner_newest when q names a key, or of
// links_user_newest when it names a user.
func listSQL(q link.ListQuery) (string, []any) {
	from := `links`
	if q.DestinationHost != "" {
		from = `(SELECT *, ` + hostExpr + ` AS h FROM links WHERE deleted_at IS NULL) AS links`
	}
	columns, clicks := linkColumns, ``
	if q.ByClicks || q.WithClicks {
		// clicks_total holds only links clicked at least once.
		clicks = `coalesce(ct.humans, 0)`
		columns += `, ` + clicks
		from += ` LEFT JOIN clicks_total AS ct ON ct.link_id = links.id`
	}
	query := `SELECT ` + columns + ` FROM ` + from + ` WHERE deleted_at IS NULL`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Owner != 0 {
		query += ` AND owner_id = ` + arg(q.Owner)
	}
	if q.UserID != 0 {
		query += ` AND user_id = ` + arg(q.UserID)
	}
	if q.Tag != "" {
		query += ` AND id IN (SELECT link_id FROM link_tags WHERE tag = ` + arg(q.Tag) + `)`
	}
	if q.Search != "" {
		p := arg("%" + escapeLike(q.Search) + "%")
		query += ` AND (code ILIKE ` + p + ` OR title ILIKE ` + p + ` OR url ILIKE ` + p + `)`
	}
	if q.DestinationHost != "" {
		query += ` AND ` + hostMatch(len(args)+1)
		args = append(args, hostArgs(q.DestinationHost)...)
	}
	if q.OnDomain {
		query += ` AND domain_id = ` + arg(q.Domain)
	}
	order, cmp := `DESC`, `<`
	if q.Oldest {
		order, cmp = `ASC`, `>`
	}
	switch {
	case q.After != nil && q.ByClicks:
		query += ` AND (` + clicks + `, created_at, code) ` + cmp + ` (` + arg(q.After.Clicks) + `::bigint, ` +
			arg(q.After.CreatedAt) + `, ` + arg(string(q.After.Code)) + `)`
	case q.After != nil:
		query += ` AND (created_at, code) ` + cmp + ` (` + arg(q.After.CreatedAt) + `, ` + arg(string(q.After.Code)) + `)`
	}
	query += ` ORDER BY `
	if q.ByClicks {
		query += clicks + ` ` + order + `, `
	}
	query += `created_at ` + order + `, code ` + order + ` LIMIT ` + arg(q.Limit)
	return query, args
}

// List returns a page of live links, newest first unless q.Oldest, with
// their tags, from a replica when there is one; see link.Lister. A replica
// may lag the primary by its replication delay.
func (db *DB) List(ctx context.Context, q link.ListQuery) ([]link.Link, error) {
	query, args := listSQL(q)
	out, err := db.links(ctx, q.ByClicks || q.WithClicks, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list: %w", translate(err))
	}
	return out, nil
}

// withClicks scans a row of linkColumns followed by a link's clicks.
type withClicks struct {
	row    pgx.Row
	clicks *int64
}

func (w withClicks) Scan(dest ...any) error { return w.row.Scan(append(dest, w.clicks)...) }

// links runs a query for linkColumns, followed by the link's clicks when
// clicks is set, on a replica, or the primary, and returns its links with
// their tags.
func (db *DB) links(ctx context.Context, clicks bool, query string, args ...any) ([]link.Link, error) {
	var out []link.Link
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		out = out[:0]
		rows, err := p.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n int64
			var row pgx.Row = rows
			if clicks {
				row = withClicks{rows, &n}
			}
			l, err := scanLink(row)
			if err != nil {
				rows.Close()
				return err
			}
			l.Clicks = n
			out = append(out, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return addTags(ctx, p, out)
	})
	return out, err
}

// Tags counts live links per tag; see link.Editor.
func (db *DB) Tags(ctx context.Context, q link.ListQuery) ([]link.TagCount, error) {
	query := `SELECT t.tag, count(*) FROM link_tags t JOIN links l ON l.id = t.link_id WHERE l.deleted_at IS NULL`
	var args []any
	if q.Owner != 0 {
		args = append(args, q.Owner)
		query += fmt.Sprintf(` AND l.owner_id = $%d`, len(args))
	}
	if q.UserID != 0 {
		args = append(args, q.UserID)
		query += fmt.Sprintf(` AND l.user_id = $%d`, len(args))
	}
	query += ` GROUP BY t.tag ORDER BY t.tag`
	var out []link.TagCount
	err := db.read(ctx, func(ctx context.Context, p *pgxpool.Pool) error {
		rows, err := p.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (link.TagCount, error) {
			var tc link.TagCount
			err := r.Scan(&tc.Tag, &tc.Links)
			return tc, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: tags: %w", translate(err))
	}
	return out, nil
}

// LinksTo returns the live, enabled links to hosts or their subdomains, on
// the primary; see link.Editor. It reads every live link: blocklist updates
// are rare, and the statement timeout is lifted for it.
func (db *DB) LinksTo(ctx context.Context, hosts []string) ([]link.Link, error) {
	if len(hosts) == 0 {
		return nil, nil
	}
	var conds []string
	var args []any
	for _, h := range hosts {
		conds = append(conds, hostMatch(len(args)+1))
		args = append(args, hostArgs(strings.ToLower(h))...)
	}
	query := `SELECT ` + linkColumns + ` FROM (SELECT *, ` + hostExpr + ` AS h FROM links
		WHERE deleted_at IS NULL AND disabled_at IS NULL) AS links WHERE ` + strings.Join(conds, ` OR `) + ` ORDER BY id`
	var out []link.Link
	err := pgx.BeginFunc(ctx, db.primary.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (link.Link, error) { return scanLink(r) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: links to %d hosts: %w", len(hosts), translate(err))
	}
	return out, nil
}

// ReserveIDs reserves n consecutive ids from the link_ids sequence on the
// primary and returns the first, durably: see reserveSQL. A reservation of
// up to one block (1000, the usual size) costs one nextval; see
// reserve_link_ids in the schema.
func (db *DB) ReserveIDs(ctx context.Context, n uint64) (uint64, error) {
	if n == 0 || n > 1<<62 {
		return 0, fmt.Errorf("postgres: reserve ids: cannot reserve %d ids", n)
	}
	var first int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		var xid string
		return p.QueryRow(ctx, reserveSQL, int64(n)).Scan(&first, &xid)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: reserve ids: %w", translate(err))
	}
	return uint64(first), nil
}

// Setting returns the stored value of name, first storing init if there is
// none, so that concurrent first starts agree on one value.
func (db *DB) Setting(ctx context.Context, name, init string) (string, error) {
	var v string
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		// Two statements, not one: an INSERT that waited for a concurrent
		// first insert to commit still has a snapshot that cannot see it,
		// but the next statement's snapshot can.
		if _, err := p.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, init); err != nil {
			return err
		}
		return p.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	})
	if err != nil {
		return "", fmt.Errorf("postgres: setting %s: %w", name, translate(err))
	}
	return v, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func rulesJSON(rules []link.Rule) (any, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(rules)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return string(b), nil
}

// escapeLike escapes LIKE's wildcards and its escape character.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
