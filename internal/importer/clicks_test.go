package importer_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/pgsink"
	"github.com/shortlinks/shortlinks/internal/analytics/sqlitesink"
	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// counted is a store with the click analytics that reads its totals.
type counted struct {
	engine
	stats analytics.Stats
}

// countedEngines are the engines with their analytics readers.
func countedEngines() map[string]func(t *testing.T) counted {
	return map[string]func(t *testing.T) counted{
		"sqlite": func(t *testing.T) counted {
			db := sqlitetest.Open(t)
			return counted{db, sqlitesink.New(db.Writer(), sqlitesink.Options{})}
		},
		"postgres": func(t *testing.T) counted {
			url := pgtest.Database(t)
			db, err := postgres.Open(t.Context(), postgres.Options{URL: url, MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			pool, err := pgxpool.New(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return counted{db, pgsink.New(pool, pgsink.Options{})}
		},
	}
}

// clicksOf returns the people's clicks of all time of the links with codes.
func clicksOf(t *testing.T, db counted, codes ...link.Code) map[link.Code]int64 {
	t.Helper()
	ids := make([]int64, len(codes))
	for i, c := range codes {
		l, err := db.Get(t.Context(), c)
		if err != nil {
			t.Fatalf("get %s: %v", c, err)
		}
		ids[i] = l.ID
	}
	totals, err := db.stats.Totals(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[link.Code]int64, len(codes))
	for i, c := range codes {
		out[c] = totals[ids[i]].Humans
	}
	return out
}

// TestImportCarriesClicks: the clicks a record counted at its source are
// the link's click total here, and running the same import again skips
// the links without adding them again.
func TestImportCarriesClicks(t *testing.T) {
	const file = `url,code,clicks
https://a.example/,many,1021
https://b.example/,none,0
https://c.example/,one,1
`
	for name, open := range countedEngines() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			for run := 1; run <= 2; run++ {
				src, err := transfer.OpenCSV(strings.NewReader(file), transfer.FileOptions{})
				if err != nil {
					t.Fatal(err)
				}
				sum, err := importer.New(db, generator(t, db), importer.Options{}).Run(t.Context(), src)
				if err != nil {
					t.Fatal(err)
				}
				if run == 2 && sum.Skipped != 3 {
					t.Errorf("rerun: %+v, want all 3 skipped", sum)
				}
				got := clicksOf(t, db, "many", "none", "one")
				if got["many"] != 1021 || got["none"] != 0 || got["one"] != 1 {
					t.Errorf("run %d: clicks %v, want many 1021, none 0, one 1", run, got)
				}
			}
		})
	}
}

// TestImportYOURLSCarriesClicks imports a real YOURLS database in MariaDB
// and finds each link's YOURLS click count as its total here.
func TestImportYOURLSCarriesClicks(t *testing.T) {
	cfg, err := mysql.ParseDSN(servicetest.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "shortlinks_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("mysql", cfg.FormatDSN()); err == nil {
			a.Exec("DROP DATABASE `" + name + "`")
			a.Close()
		}
	})
	cfg.DBName = name
	my, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer my.Close()
	// The links table as YOURLS 1.10 creates it.
	_, err = my.Exec("CREATE TABLE `yourls_url` (" +
		"`keyword` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT ''," +
		"`url` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL," +
		"`title` text COLLATE utf8mb4_unicode_ci DEFAULT NULL," +
		"`timestamp` timestamp NOT NULL DEFAULT current_timestamp()," +
		"`ip` varchar(41) COLLATE utf8mb4_unicode_ci NOT NULL," +
		"`clicks` int(10) unsigned NOT NULL," +
		"PRIMARY KEY (`keyword`)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	if err != nil {
		t.Fatal(err)
	}
	_, err = my.Exec("INSERT INTO yourls_url (keyword, url, title, timestamp, ip, clicks) VALUES " +
		"('ozh', 'https://ozh.org/', 'Ozh RICHARD', '2009-09-01 20:45:12', '203.0.113.9', 74)," +
		"('yourls', 'https://yourls.org/', NULL, '2009-09-01 20:45:12', '203.0.113.9', 4294967295)")
	if err != nil {
		t.Fatal(err)
	}
	for engine, open := range countedEngines() {
		t.Run(engine, func(t *testing.T) {
			db := open(t)
			src, err := transfer.OpenYOURLS(t.Context(), transfer.YOURLSOptions{DSN: cfg.FormatDSN()})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			sum, err := importer.New(db, generator(t, db), importer.Options{}).Run(t.Context(), src)
			if err != nil || sum.Imported != 2 {
				t.Fatalf("import: %+v, %v; want 2 imported", sum, err)
			}
			if got := clicksOf(t, db, "ozh", "yourls"); got["ozh"] != 74 || got["yourls"] != 4294967295 {
				t.Errorf("clicks %v, want ozh 74 and yourls 4294967295", got)
			}
		})
	}
}
