package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

var (
	_ link.Store  = (*DB)(nil)
	_ link.Lister = (*DB)(nil)
	_ link.Editor = (*DB)(nil)
)

// linkColumns are the columns a link is read from, in scanLink's order.
// Tags are in link_tags.
const linkColumns = `id, code, url, created_at, expires_at, owner_id, user_id, title, disabled_at, disabled_reason,
	valid_from, max_visits, password_hash, forward_query, rules, domain_id`

// getSQL is the redirect path's query on the default domain: one probe of
// the (code, domain) index. getOnSQL is the same on any domain, its second
// argument.
const (
	getSQL   = `SELECT ` + linkColumns + ` FROM links WHERE code = ? AND domain_id = 0 AND deleted_at IS NULL`
	getOnSQL = `SELECT ` + linkColumns + ` FROM links WHERE code = ? AND domain_id = ? AND deleted_at IS NULL`
)

const insertSQL = `INSERT INTO links (code, url, created_at, expires_at, owner_id, user_id, title, disabled_at, disabled_reason,
	valid_from, max_visits, password_hash, forward_query, rules, domain_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertArgs are l's values for insertSQL.
func insertArgs(l link.Link) ([]any, error) {
	rules, err := rulesJSON(l.Rules)
	if err != nil {
		return nil, err
	}
	return []any{string(l.Code), l.URL, l.CreatedAt.UnixMicro(), nullTime(l.ExpiresAt), nullID(l.Owner), nullID(l.UserID),
		nullText(l.Title), nullTime(l.DisabledAt), nullText(l.DisabledReason), nullTime(l.ValidFrom), nullID(l.MaxVisits),
		nullText(l.PasswordHash), l.ForwardQuery, rules, l.Domain}, nil
}

type scanner interface{ Scan(dest ...any) error }

// scanLink reads the linkColumns of one row.
func scanLink(row scanner) (link.Link, error) {
	var l link.Link
	var created int64
	var expires, owner, user, disabled, validFrom, maxVisits sql.NullInt64
	var title, reason, hash, rules sql.NullString
	if err := row.Scan(&l.ID, &l.Code, &l.URL, &created, &expires, &owner, &user, &title, &disabled, &reason,
		&validFrom, &maxVisits, &hash, &l.ForwardQuery, &rules, &l.Domain); err != nil {
		return link.Link{}, err
	}
	l.CreatedAt = time.UnixMicro(created).UTC()
	l.ExpiresAt = fromMicros(expires)
	l.Owner, l.UserID = owner.Int64, user.Int64
	l.Title, l.DisabledReason, l.PasswordHash = title.String, reason.String, hash.String
	l.DisabledAt, l.ValidFrom = fromMicros(disabled), fromMicros(validFrom)
	l.MaxVisits = maxVisits.Int64
	if rules.Valid && rules.String != "" {
		if err := json.Unmarshal([]byte(rules.String), &l.Rules); err != nil {
			return link.Link{}, fmt.Errorf("rules of %s: %w", l.Code, err)
		}
	}
	return l, nil
}

// Insert stores l and its tags; see link.Store.
func (db *DB) Insert(ctx context.Context, l link.Link) (int64, error) {
	args, err := insertArgs(l)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert %s: %w", l.Code, err)
	}
	var id int64
	if len(l.Tags) == 0 {
		err = db.write.QueryRowContext(ctx, insertSQL+` RETURNING id`, args...).Scan(&id)
	} else {
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, insertSQL+` RETURNING id`, args...).Scan(&id); err != nil {
				return err
			}
			return setTags(ctx, tx, id, l.Tags)
		})
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert %s: %w", l.Code, translate(err))
	}
	return id, nil
}

func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// setTags replaces the tags of the link with id.
func setTags(ctx context.Context, tx *sql.Tx, id int64, tags []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM link_tags WHERE link_id = ?`, id); err != nil {
		return err
	}
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO link_tags (link_id, tag) VALUES (?, ?)`, id, t); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the live link for c, without its tags; see link.Store.
func (db *DB) Get(ctx context.Context, c link.Code) (link.Link, error) {
	var row *sql.Row
	if db.get != nil {
		row = db.get.QueryRowContext(ctx, string(c))
	} else {
		row = db.read.QueryRowContext(ctx, getSQL, string(c))
	}
	l, err := scanLink(row)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return link.Link{}, link.ErrNotFound
		}
		return link.Link{}, fmt.Errorf("sqlite: get %s: %w", c, translate(err))
	}
	return l, nil
}

// GetOn returns the live link for c on domain d, without its tags; see
// link.DomainLinks.
func (db *DB) GetOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	if d == link.DefaultDomain {
		return db.Get(ctx, c)
	}
	l, err := scanLink(db.read.QueryRowContext(ctx, getOnSQL, string(c), d))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return link.Link{}, link.ErrNotFound
		}
		return link.Link{}, fmt.Errorf("sqlite: get %s on domain %d: %w", c, d, translate(err))
	}
	return l, nil
}

// Find returns the live link for c with its tags; see link.Editor.
func (db *DB) Find(ctx context.Context, c link.Code) (link.Link, error) {
	return db.FindOn(ctx, link.DefaultDomain, c)
}

// FindOn returns the live link for c on domain d with its tags; see
// link.DomainEditor.
func (db *DB) FindOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	l, err := scanLink(db.read.QueryRowContext(ctx, getOnSQL, string(c), d))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return link.Link{}, link.ErrNotFound
		}
		return link.Link{}, fmt.Errorf("sqlite: find %s: %w", c, translate(err))
	}
	links := []link.Link{l}
	if err := db.addTags(ctx, db.read, links); err != nil {
		return link.Link{}, fmt.Errorf("sqlite: find %s: %w", c, translate(err))
	}
	return links[0], nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// addTags fills in the tags of links.
func (db *DB) addTags(ctx context.Context, q querier, links []link.Link) error {
	if len(links) == 0 {
		return nil
	}
	byID := make(map[int64]int, len(links))
	args := make([]any, len(links))
	for i, l := range links {
		byID[l.ID] = i
		args[i] = l.ID
	}
	rows, err := q.QueryContext(ctx, `SELECT link_id, tag FROM link_tags WHERE link_id IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(links)), ",")+`) ORDER BY link_id, tag`, args...)
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

// Update edits the live link for c in one write transaction; see
// link.Editor.
func (db *DB) Update(ctx context.Context, c link.Code, edit func(*link.Link) error) (before, after link.Link, err error) {
	return db.UpdateOn(ctx, link.DefaultDomain, c, edit)
}

// UpdateOn edits the live link for c on domain d in one write
// transaction; see link.DomainEditor.
func (db *DB) UpdateOn(ctx context.Context, d int64, c link.Code, edit func(*link.Link) error) (before, after link.Link, err error) {
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		before, err = scanLink(tx.QueryRowContext(ctx, getOnSQL, string(c), d))
		if errors.Is(err, sql.ErrNoRows) {
			return link.ErrNotFound
		}
		if err != nil {
			return err
		}
		ls := []link.Link{before}
		if err := db.addTags(ctx, tx, ls); err != nil {
			return err
		}
		before = ls[0]
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
		if _, err := tx.ExecContext(ctx, `UPDATE links SET url = ?, expires_at = ?, user_id = ?, title = ?, disabled_at = ?,
			disabled_reason = ?, valid_from = ?, max_visits = ?, password_hash = ?, forward_query = ?, rules = ? WHERE id = ?`,
			after.URL, nullTime(after.ExpiresAt), nullID(after.UserID), nullText(after.Title), nullTime(after.DisabledAt),
			nullText(after.DisabledReason), nullTime(after.ValidFrom), nullID(after.MaxVisits), nullText(after.PasswordHash),
			after.ForwardQuery, rules, before.ID); err != nil {
			return err
		}
		if !equalTags(before.Tags, after.Tags) {
			return setTags(ctx, tx, before.ID, after.Tags)
		}
		return nil
	})
	if err != nil {
		var le *link.Error
		if errors.As(err, &le) {
			return link.Link{}, link.Link{}, err
		}
		return link.Link{}, link.Link{}, fmt.Errorf("sqlite: update %s: %w", c, translate(err))
	}
	after.ID, after.Code, after.CreatedAt, after.Owner, after.Domain = before.ID, before.Code, before.CreatedAt, before.Owner, before.Domain
	return before, after, nil
}

func equalTags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Delete removes the link for c, keeping its code reserved; see link.Store.
// Its tags go with it.
func (db *DB) Delete(ctx context.Context, c link.Code) error {
	return db.DeleteOn(ctx, link.DefaultDomain, c)
}

// DeleteOn removes the link for c on domain d, keeping its code reserved
// there; see link.DomainLinks.
func (db *DB) DeleteOn(ctx context.Context, d int64, c link.Code) error {
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE links SET deleted_at = ?, url = '' WHERE code = ? AND domain_id = ? AND deleted_at IS NULL`,
			time.Now().UnixMicro(), string(c), d)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM link_tags WHERE link_id = (SELECT id FROM links WHERE code = ? AND domain_id = ?)`, string(c), d)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete %s: %w", c, translate(err))
	}
	if n == 0 {
		return link.ErrNotFound
	}
	return nil
}

// hostExpr is the host of a stored URL, which NormalizeURL writes as
// scheme://host[:port] followed by nothing or one of / ? #; the port is
// stripped in hostMatch.
const hostExpr = `substr(url, instr(url, '://') + 3,
	min(instr(substr(url, instr(url, '://') + 3) || '/', '/'), instr(substr(url, instr(url, '://') + 3) || '?', '?'),
		instr(substr(url, instr(url, '://') + 3) || '#', '#')) - 1)`

// hostMatch is true for links whose host (with or without port) is the
// argument or under it. The argument is a lower-case host name, in which
// LIKE's wildcards are escaped.
const hostMatch = `(h = ? OR h LIKE '%.' || ? ESCAPE '\' OR h LIKE ? || ':%' ESCAPE '\' OR h LIKE '%.' || ? || ':%' ESCAPE '\')`

func hostArgs(host string) []any {
	e := escapeLike(host)
	return []any{host, e, e, e}
}

// List returns a page of live links, newest first unless q.Oldest; see
// link.Lister.
func (db *DB) List(ctx context.Context, q link.ListQuery) ([]link.Link, error) {
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
	if q.Owner != 0 {
		query += ` AND owner_id = ?`
		args = append(args, q.Owner)
	}
	if q.UserID != 0 {
		query += ` AND user_id = ?`
		args = append(args, q.UserID)
	}
	if q.Tag != "" {
		query += ` AND id IN (SELECT link_id FROM link_tags WHERE tag = ?)`
		args = append(args, q.Tag)
	}
	if q.Search != "" {
		p := "%" + escapeLike(q.Search) + "%"
		query += ` AND (code LIKE ? ESCAPE '\' OR title LIKE ? ESCAPE '\' OR url LIKE ? ESCAPE '\')`
		args = append(args, p, p, p)
	}
	if q.DestinationHost != "" {
		query += ` AND ` + hostMatch
		args = append(args, hostArgs(q.DestinationHost)...)
	}
	if q.OnDomain {
		query += ` AND domain_id = ?`
		args = append(args, q.Domain)
	}
	order, cmp := `DESC`, `<`
	if q.Oldest {
		order, cmp = `ASC`, `>`
	}
	switch {
	case q.After != nil && q.ByClicks:
		query += ` AND (` + clicks + `, created_at, code) ` + cmp + ` (?, ?, ?)`
		args = append(args, q.After.Clicks, q.After.CreatedAt.UnixMicro(), string(q.After.Code))
	case q.After != nil:
		query += ` AND (created_at, code) ` + cmp + ` (?, ?)`
		args = append(args, q.After.CreatedAt.UnixMicro(), string(q.After.Code))
	}
	query += ` ORDER BY `
	if q.ByClicks {
		query += clicks + ` ` + order + `, `
	}
	query += `created_at ` + order + `, code ` + order + ` LIMIT ?`
	args = append(args, q.Limit)
	out, err := db.links(ctx, q.ByClicks || q.WithClicks, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", translate(err))
	}
	return out, nil
}

// withClicks scans a row of linkColumns followed by a link's clicks.
type withClicks struct {
	row    scanner
	clicks *int64
}

func (w withClicks) Scan(dest ...any) error { return w.row.Scan(append(dest, w.clicks)...) }

// links runs a query for linkColumns, followed by the link's clicks when
// clicks is set, and returns its links with their tags.
func (db *DB) links(ctx context.Context, clicks bool, query string, args ...any) ([]link.Link, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []link.Link
	for rows.Next() {
		var n int64
		var row scanner = rows
		if clicks {
			row = withClicks{rows, &n}
		}
		l, err := scanLink(row)
		if err != nil {
			return nil, err
		}
		l.Clicks = n
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if err := db.addTags(ctx, db.read, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Tags counts live links per tag; see link.Editor.
func (db *DB) Tags(ctx context.Context, q link.ListQuery) ([]link.TagCount, error) {
	query := `SELECT t.tag, count(*) FROM link_tags t JOIN links l ON l.id = t.link_id WHERE l.deleted_at IS NULL`
	var args []any
	if q.Owner != 0 {
		query += ` AND l.owner_id = ?`
		args = append(args, q.Owner)
	}
	if q.UserID != 0 {
		query += ` AND l.user_id = ?`
		args = append(args, q.UserID)
	}
	query += ` GROUP BY t.tag ORDER BY t.tag`
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tags: %w", translate(err))
	}
	defer rows.Close()
	var out []link.TagCount
	for rows.Next() {
		var tc link.TagCount
		if err := rows.Scan(&tc.Tag, &tc.Links); err != nil {
			return nil, fmt.Errorf("sqlite: tags: %w", err)
		}
		out = append(out, tc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: tags: %w", translate(err))
	}
	return out, nil
}

// LinksTo returns the live, enabled links to hosts or their subdomains;
// see link.Editor. It reads every live link: blocklist updates are rare.
func (db *DB) LinksTo(ctx context.Context, hosts []string) ([]link.Link, error) {
	if len(hosts) == 0 {
		return nil, nil
	}
	var conds []string
	var args []any
	for _, h := range hosts {
		conds = append(conds, hostMatch)
		args = append(args, hostArgs(strings.ToLower(h))...)
	}
	query := `SELECT ` + linkColumns + ` FROM (SELECT *, ` + hostExpr + ` AS h FROM links
		WHERE deleted_at IS NULL AND disabled_at IS NULL) WHERE ` + strings.Join(conds, ` OR `) + ` ORDER BY id`
	out, err := db.links(ctx, false, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: links to %d hosts: %w", len(hosts), translate(err))
	}
	return out, nil
}

// ReserveIDs reserves n ids from the durable counter and returns the first.
// The counter is committed before any id is used, so no id is handed out
// twice even if the process dies.
func (db *DB) ReserveIDs(ctx context.Context, n uint64) (uint64, error) {
	var next int64
	err := db.write.QueryRowContext(ctx,
		`UPDATE counters SET next = next + ? WHERE name = 'link_id' RETURNING next`, int64(n)).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("sqlite: reserve ids: %w", translate(err))
	}
	return uint64(next) - n, nil
}

// Setting returns the stored value of name, first storing init if there is
// none, so that concurrent first starts agree on one value.
func (db *DB) Setting(ctx context.Context, name, init string) (string, error) {
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, init); err != nil {
		return "", fmt.Errorf("sqlite: setting %s: %w", name, translate(err))
	}
	var v string
	if err := db.write.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v); err != nil {
		return "", fmt.Errorf("sqlite: setting %s: %w", name, translate(err))
	}
	return v, nil
}

func rulesJSON(rules []link.Rule) (sql.NullString, error) {
	if len(rules) == 0 {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(rules)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("rules: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// escapeLike escapes LIKE's wildcards and its escape character.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func nullID(id int64) sql.NullInt64 {
	return sql.NullInt64{Int64: id, Valid: id != 0}
}

func nullText(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
