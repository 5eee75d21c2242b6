package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shortlinks/shortlinks/internal/account"
)

var _ account.Store = (*DB)(nil)

const userColumns = `id, email, role, created_at, disabled_at, domains, session_epoch, password_hash`

// execer is what both the writer and a transaction on it can run.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// CreateUser stores u; see account.Store.
func (db *DB) CreateUser(ctx context.Context, u account.User, hash string) (account.User, error) {
	if err := insertUser(ctx, db.write, &u, hash); err != nil {
		return account.User{}, fmt.Errorf("sqlite: create user: %w", userError(err))
	}
	return u, nil
}

// CreateFirstUser stores u if no first user was ever made and there is no
// user; see account.Store. The transaction takes the write lock at BEGIN,
// so a second process that tries at once waits, then finds the settings
// row that marks the first user.
func (db *DB) CreateFirstUser(ctx context.Context, u account.User, hash string) (account.User, bool, error) {
	made := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('first_user', ?) ON CONFLICT (name) DO NOTHING`, u.Email)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		var some bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&some); err != nil || some {
			return err
		}
		made = true
		return insertUser(ctx, tx, &u, hash)
	})
	if err != nil {
		return account.User{}, false, fmt.Errorf("sqlite: create first user: %w", userError(err))
	}
	if !made {
		return account.User{}, false, nil
	}
	return u, true, nil
}

// tx runs fn in a transaction on the writer and commits it if fn returns
// nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func insertUser(ctx context.Context, q execer, u *account.User, hash string) error {
	domains, err := encodeDomains(u.Domains)
	if err != nil {
		return err
	}
	return q.QueryRowContext(ctx,
		`INSERT INTO users (email, password_hash, role, created_at, domains) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		u.Email, hash, string(u.Role), u.CreatedAt.UnixMicro(), domains).Scan(&u.ID)
}

func encodeDomains(domains []string) (string, error) {
	if len(domains) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(domains)
	return string(b), err
}

// userError turns a unique violation on the email into ErrEmailTaken and
// other driver errors as translate does.
func userError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(se.Error(), "users.email") {
		return fmt.Errorf("%w (%v)", account.ErrEmailTaken, err)
	}
	return translate(err)
}

// UserByID returns a user and its password hash; see account.Store.
func (db *DB) UserByID(ctx context.Context, id int64) (account.User, string, error) {
	return db.userWhere(ctx, `id = ?`, id)
}

// UserByEmail returns a user and its password hash by email, compared
// case-insensitively (the column is NOCASE); see account.Store.
func (db *DB) UserByEmail(ctx context.Context, email string) (account.User, string, error) {
	return db.userWhere(ctx, `email = ?`, email)
}

func (db *DB) userWhere(ctx context.Context, where string, arg any) (account.User, string, error) {
	u, hash, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return account.User{}, "", account.ErrUserNotFound
	}
	if err != nil {
		return account.User{}, "", fmt.Errorf("sqlite: user: %w", translate(err))
	}
	return u, hash, nil
}

// ListUsers returns a page of users by id; see account.Store.
func (db *DB) ListUsers(ctx context.Context, after int64, limit int) ([]account.User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", translate(err))
	}
	defer rows.Close()
	var users []account.User
	for rows.Next() {
		u, _, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", translate(err))
	}
	return users, nil
}

func scanUser(row interface{ Scan(...any) error }) (account.User, string, error) {
	var u account.User
	var role, domains, hash string
	var created int64
	var disabled sql.NullInt64
	if err := row.Scan(&u.ID, &u.Email, &role, &created, &disabled, &domains, &u.SessionEpoch, &hash); err != nil {
		return account.User{}, "", err
	}
	u.Role = account.Role(role)
	u.CreatedAt = time.UnixMicro(created).UTC()
	if disabled.Valid {
		u.DisabledAt = time.UnixMicro(disabled.Int64).UTC()
	}
	if err := json.Unmarshal([]byte(domains), &u.Domains); err != nil {
		return account.User{}, "", fmt.Errorf("user %d: domains: %w", u.ID, err)
	}
	if u.Domains == nil {
		u.Domains = []string{}
	}
	return u, hash, nil
}

// SetUserPassword replaces a user's password hash; see account.Store.
func (db *DB) SetUserPassword(ctx context.Context, id int64, hash, ifHash string) error {
	return db.updateUser(ctx, "set password", id,
		`UPDATE users SET password_hash = ?2 WHERE id = ?1 AND (?3 = '' OR password_hash = ?3)`, hash, ifHash)
}

// SetUserDomains replaces a user's domains; see account.Store.
func (db *DB) SetUserDomains(ctx context.Context, id int64, domains []string) error {
	d, err := encodeDomains(domains)
	if err != nil {
		return fmt.Errorf("sqlite: set domains of user %d: %w", id, err)
	}
	return db.updateUser(ctx, "set domains", id, `UPDATE users SET domains = ?2 WHERE id = ?1`, d)
}

// updateUser runs an UPDATE of one user, whose first parameter is the id,
// and tells a missing user from a condition that held the update back.
func (db *DB) updateUser(ctx context.Context, what string, id int64, query string, args ...any) error {
	res, err := db.write.ExecContext(ctx, query, append([]any{id}, args...)...)
	if err != nil {
		return fmt.Errorf("sqlite: %s of user %d: %w", what, id, translate(err))
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var exists bool
	if err := db.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("sqlite: %s of user %d: %w", what, id, translate(err))
	}
	if !exists {
		return account.ErrUserNotFound
	}
	return nil
}

// SetUserRole changes a user's role, refusing to demote the last active
// admin; see account.Store.
func (db *DB) SetUserRole(ctx context.Context, id int64, role account.Role) error {
	return db.guardAdmins(ctx, "set role", id, role != account.RoleAdmin,
		`UPDATE users SET role = ?2 WHERE id = ?1`, string(role))
}

// SetUserDisabled disables a user (keeping the first time) or, with a
// zero at, enables them, refusing to disable the last active admin; see
// account.Store.
func (db *DB) SetUserDisabled(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return db.updateUser(ctx, "enable", id, `UPDATE users SET disabled_at = NULL WHERE id = ?1`)
	}
	return db.guardAdmins(ctx, "disable", id, true,
		`UPDATE users SET disabled_at = coalesce(disabled_at, ?2) WHERE id = ?1`, at.UnixMicro())
}

// guardAdmins runs an update of user id in a write transaction, which
// SQLite serialises, and returns ErrLastAdmin instead when the update takes
// an admin away (demotes says so) and id is the only active admin.
func (db *DB) guardAdmins(ctx context.Context, what string, id int64, demotes bool, query string, args ...any) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if demotes {
			var others, self bool
			err := tx.QueryRowContext(ctx, `
				SELECT coalesce(max(id <> ?1), 0), coalesce(max(id = ?1), 0)
				FROM users WHERE role = 'admin' AND disabled_at IS NULL`, id).Scan(&others, &self)
			if err != nil {
				return err
			}
			if self && !others {
				return account.ErrLastAdmin
			}
		}
		res, err := tx.ExecContext(ctx, query, append([]any{id}, args...)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = account.ErrUserNotFound
			}
			return err
		}
		return nil
	})
	if errors.Is(err, account.ErrLastAdmin) || errors.Is(err, account.ErrUserNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s of user %d: %w", what, id, translate(err))
	}
	return nil
}

// EndSessions voids every session of a user and deletes them, in one
// transaction; see account.Store.
func (db *DB) EndSessions(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?`, userID)
		if err != nil {
			return err
		}
		if m, err := res.RowsAffected(); err != nil || m == 0 {
			if err == nil {
				err = account.ErrUserNotFound
			}
			return err
		}
		if res, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if errors.Is(err, account.ErrUserNotFound) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: end sessions of user %d: %w", userID, translate(err))
	}
	return n, nil
}
