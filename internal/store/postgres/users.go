package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/account"
)

var _ account.Store = (*DB)(nil)

// Users are read and written on the primary only: a user who has just
// been disabled, or whose sessions have just been ended, must be seen so
// at once by every instance.

const userColumns = `id, email, role, created_at, disabled_at, domains, session_epoch, password_hash`

// CreateUser stores u on the primary; see account.Store.
func (db *DB) CreateUser(ctx context.Context, u account.User, hash string) (account.User, error) {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return insertUser(ctx, p, &u, hash)
	})
	if err != nil {
		return account.User{}, fmt.Errorf("postgres: create user: %w", userError(err))
	}
	return u, nil
}

// CreateFirstUser stores u if no first user was ever made and there is no
// user; see account.Store. A row in settings marks the first user: its
// primary key makes a second transaction that tries to add it wait for
// the first and then find it there, so instances that start together make
// one user between them.
func (db *DB) CreateFirstUser(ctx context.Context, u account.User, hash string) (account.User, bool, error) {
	made := false
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO settings (name, value) VALUES ('first_user', $1) ON CONFLICT (name) DO NOTHING`, u.Email)
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			var some bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&some); err != nil || some {
				return err
			}
			made = true
			return insertUser(ctx, tx, &u, hash)
		})
	})
	if err != nil {
		return account.User{}, false, fmt.Errorf("postgres: create first user: %w", userError(err))
	}
	if !made {
		return account.User{}, false, nil
	}
	return u, true, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertUser(ctx context.Context, q querier, u *account.User, hash string) error {
	domains := u.Domains
	if domains == nil {
		domains = []string{}
	}
	return q.QueryRow(ctx,
		`INSERT INTO users (email, password_hash, role, created_at, domains) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		u.Email, hash, string(u.Role), u.CreatedAt, domains).Scan(&u.ID)
}

// userError turns a unique violation on the email into ErrEmailTaken and
// other driver errors as translate does.
func userError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "users_email" {
		return fmt.Errorf("%w (%v)", account.ErrEmailTaken, err)
	}
	return translate(err)
}

// UserByID returns a user and its password hash, from the primary; see
// account.Store.
func (db *DB) UserByID(ctx context.Context, id int64) (account.User, string, error) {
	return db.userWhere(ctx, `id = $1`, id)
}

// UserByEmail returns a user and its password hash by email, compared
// case-insensitively, from the primary; see account.Store.
func (db *DB) UserByEmail(ctx context.Context, email string) (account.User, string, error) {
	return db.userWhere(ctx, `lower(email) = lower($1)`, email)
}

func (db *DB) userWhere(ctx context.Context, where string, arg any) (account.User, string, error) {
	var u account.User
	var hash string
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		var err error
		u, hash, err = scanUser(p.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return account.User{}, "", account.ErrUserNotFound
	}
	if err != nil {
		return account.User{}, "", fmt.Errorf("postgres: user: %w", translate(err))
	}
	return u, hash, nil
}

// ListUsers returns a page of users by id, from the primary; see
// account.Store.
func (db *DB) ListUsers(ctx context.Context, after int64, limit int) ([]account.User, error) {
	var users []account.User
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		rows, err := p.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		users, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.User, error) {
			u, _, err := scanUser(row)
			return u, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", translate(err))
	}
	return users, nil
}

func scanUser(row pgx.Row) (account.User, string, error) {
	var u account.User
	var role, hash string
	var disabled *time.Time
	if err := row.Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &disabled, &u.Domains, &u.SessionEpoch, &hash); err != nil {
		return account.User{}, "", err
	}
	u.Role = account.Role(role)
	u.CreatedAt = u.CreatedAt.UTC()
	if disabled != nil {
		u.DisabledAt = disabled.UTC()
	}
	if u.Domains == nil {
		u.Domains = []string{}
	}
	return u, hash, nil
}

// SetUserPassword replaces a user's password hash; see account.Store.
func (db *DB) SetUserPassword(ctx context.Context, id int64, hash, ifHash string) error {
	return db.updateUser(ctx, "set password", id,
		`UPDATE users SET password_hash = $2 WHERE id = $1 AND ($3 = '' OR password_hash = $3)`, hash, ifHash)
}

// SetUserDomains replaces a user's domains; see account.Store.
func (db *DB) SetUserDomains(ctx context.Context, id int64, domains []string) error {
	if domains == nil {
		domains = []string{}
	}
	return db.updateUser(ctx, "set domains", id, `UPDATE users SET domains = $2 WHERE id = $1`, domains)
}

// updateUser runs an UPDATE of one user, whose first parameter is the id,
// and tells a missing user from a condition that held the update back.
func (db *DB) updateUser(ctx context.Context, what string, id int64, sql string, args ...any) error {
	var n int64
	var exists bool
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		tag, err := p.Exec(ctx, sql, append([]any{id}, args...)...)
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n > 0 {
			return nil
		}
		return p.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, id).Scan(&exists)
	})
	if err != nil {
		return fmt.Errorf("postgres: %s of user %d: %w", what, id, translate(err))
	}
	if n == 0 && !exists {
		return account.ErrUserNotFound
	}
	return nil
}

// SetUserRole changes a user's role, refusing to demote the last active
// admin; see account.Store.
func (db *DB) SetUserRole(ctx context.Context, id int64, role account.Role) error {
	return db.guardAdmins(ctx, "set role", id, role != account.RoleAdmin,
		`UPDATE users SET role = $2 WHERE id = $1`, string(role))
}

// SetUserDisabled disables a user (keeping the first time) or, with a
// zero at, enables them, refusing to disable the last active admin; see
// account.Store.
func (db *DB) SetUserDisabled(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return db.updateUser(ctx, "enable", id, `UPDATE users SET disabled_at = NULL WHERE id = $1`)
	}
	return db.guardAdmins(ctx, "disable", id, true,
		`UPDATE users SET disabled_at = coalesce(disabled_at, $2) WHERE id = $1`, at)
}

// guardAdmins runs an update of user id in a transaction that first locks
// the active admins' rows. When the update takes an admin away (demotes
// counts it so) and id is the only active admin, it returns ErrLastAdmin
// instead. Two such updates at once take turns on the locks, and the
// second sees the first's result, so they cannot both go through and leave
// no admin.
func (db *DB) guardAdmins(ctx context.Context, what string, id int64, demotes bool, sql string, args ...any) error {
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id FOR UPDATE`)
			if err != nil {
				return err
			}
			admins, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			if demotes && len(admins) == 1 && admins[0] == id {
				return account.ErrLastAdmin
			}
			tag, err := tx.Exec(ctx, sql, append([]any{id}, args...)...)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return account.ErrUserNotFound
			}
			return nil
		})
	})
	if errors.Is(err, account.ErrLastAdmin) || errors.Is(err, account.ErrUserNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("postgres: %s of user %d: %w", what, id, translate(err))
	}
	return nil
}

// EndSessions voids every session of a user and deletes them, in one
// transaction; see account.Store.
func (db *DB) EndSessions(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := db.run(ctx, db.primary, func(ctx context.Context, p *pgxpool.Pool) error {
		return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1`, userID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return account.ErrUserNotFound
			}
			tag, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
			n = tag.RowsAffected()
			return err
		})
	})
	if errors.Is(err, account.ErrUserNotFound) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: end sessions of user %d: %w", userID, translate(err))
	}
	return n, nil
}
