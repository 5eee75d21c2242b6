package postgres_test

import (
	"testing"

	"github.com/shortlinks/shortlinks/internal/report"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/store/storetest"
)

func TestReportsConformance(t *testing.T) {
	storetest.RunReports(t, func(t *testing.T) report.Store {
		db, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.Database(t), MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return db
	})
}
