package sinktest

import (
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

// SQLite returns the writing connection of a new SQLite store database,
// migrated by the store (analytics tables included), as the sink is given
// it in service.
func SQLite(t testing.TB) *sql.DB {
	t.Helper()
	return sqlitetest.Open(t).Writer()
}

// Postgres returns a pool on a new PostgreSQL database migrated by the
// store (analytics tables included). Without SHORTLINKS_TEST_POSTGRES the
// test is skipped, or fails when CI=true.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := pgtest.Database(t)
	db, err := postgres.Open(t.Context(), postgres.Options{URL: dsn, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Migrate(t.Context())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
