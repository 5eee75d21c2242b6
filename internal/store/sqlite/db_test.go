package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/store"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Engine { return sqlitetest.Open(t) })
}

func TestSchemaVersion(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "links.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cur, latest, err := db.SchemaVersion(t.Context())
	if err != nil || cur != 0 || latest < 1 {
		t.Fatalf("before migrating: SchemaVersion = %d, %d, %v; want 0, >=1", cur, latest, err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	cur, latest, err = db.SchemaVersion(t.Context())
	if err != nil || cur != latest {
		t.Fatalf("after migrating: SchemaVersion = %d, %d, %v; want equal", cur, latest, err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating twice: %v", err)
	}
}

func TestClickOrder(t *testing.T) {
	storetest.RunClickOrder(t, func(t *testing.T) (store.Engine, storetest.SetClicks) {
		db := sqlitetest.Open(t)
		return db, func(t *testing.T, id, humans, bots int64) {
			_, err := db.Writer().ExecContext(t.Context(),
				`INSERT INTO clicks_total (link_id, humans, bots, last_click) VALUES (?, ?, ?, ?)`, id, humans, bots, time.Now().UnixMicro())
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}
