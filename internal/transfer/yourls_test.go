package transfer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// yourlsURLTable is the links table exactly as YOURLS 1.10.4 creates it
// (yourls_create_sql_tables in includes/functions-install.php, database
// schema version 507), with %s for YOURLS_DB_TABLE_URL.
const yourlsURLTable = "CREATE TABLE IF NOT EXISTS `%s` (" +
	"`keyword` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT ''," +
	"`url` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL," +
	"`title` text COLLATE utf8mb4_unicode_ci DEFAULT NULL," +
	"`timestamp` timestamp NOT NULL DEFAULT current_timestamp()," +
	"`ip` varchar(41) COLLATE utf8mb4_unicode_ci NOT NULL," +
	"`clicks` int(10) unsigned NOT NULL," +
	"PRIMARY KEY (`keyword`)," +
	"KEY `ip` (`ip`)," +
	"KEY `timestamp` (`timestamp`)," +
	"KEY `url_idx` (`url`(30))" +
	") DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;"

// yourlsDB makes a database of its own on the test server, drops it when
// the test ends, and returns a connection to it and its DSN.
func yourlsDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(servicetest.MySQL(t))
	if err != nil {
		t.Fatalf("%s: %v", servicetest.MySQLVar, err)
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
		admin, err := sql.Open("mysql", cfg.FormatDSN())
		if err == nil {
			_, err = admin.Exec("DROP DATABASE `" + name + "`")
			admin.Close()
		}
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	cfg.DBName = name
	dsn := cfg.FormatDSN()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dsn
}

// yourlsLinks fills a YOURLS links table the way YOURLS writes it: UTC
// wall-clock times as text, the creator's address, the click count.
func yourlsLinks(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	if _, err := db.Exec(fmt.Sprintf(yourlsURLTable, table)); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		keyword, url string
		title        any
		ts           string
		clicks       int64
	}{
		{"ozh", "https://ozh.org/", "Ozh RICHARD", "2009-09-01 20:45:12", 74},
		{"yourls", "https://yourls.org/", "YOURLS: Your Own URL Shortener", "2009-09-01 20:45:12", 1021},
		{"Docs", "https://example.com/Docs", nil, "2024-02-29 23:59:59", 0},
		{"docs", "https://example.com/docs", "lower case, another link", "2024-03-01 00:00:00", 4294967295},
		{"ünï", "https://example.com/ünïcode?q=1&r=2", "Ünïcode", "2021-06-15 08:30:00", 3},
		{"nodate", "https://example.com/nodate", "", "0000-00-00 00:00:00", 1},
		{"blank", "  ", "no URL", "2022-01-01 00:00:00", 0},
	}
	for _, r := range rows {
		_, err := db.Exec("INSERT INTO `"+table+"` (keyword, url, title, timestamp, ip, clicks) VALUES (?, ?, ?, ?, '203.0.113.9', ?)",
			r.keyword, r.url, r.title, r.ts, r.clicks)
		if err != nil {
			t.Fatalf("insert %s: %v", r.keyword, err)
		}
	}
}

// yourlsWant is what the rows above become, in keyword (binary) order.
var yourlsWant = []Record{
	{Ref: "Docs", Code: "Docs", URL: "https://example.com/Docs", CreatedAt: at("2024-02-29T23:59:59Z")},
	{Ref: "docs", Code: "docs", URL: "https://example.com/docs", Title: "lower case, another link",
		CreatedAt: at("2024-03-01T00:00:00Z"), Clicks: 4294967295},
	{Ref: "nodate", Code: "nodate", URL: "https://example.com/nodate", Clicks: 1},
	{Ref: "ozh", Code: "ozh", URL: "https://ozh.org/", Title: "Ozh RICHARD", CreatedAt: at("2009-09-01T20:45:12Z"), Clicks: 74},
	{Ref: "yourls", Code: "yourls", URL: "https://yourls.org/", Title: "YOURLS: Your Own URL Shortener",
		CreatedAt: at("2009-09-01T20:45:12Z"), Clicks: 1021},
	{Ref: "ünï", Code: "ünï", URL: "https://example.com/ünïcode?q=1&r=2", Title: "Ünïcode", CreatedAt: at("2021-06-15T08:30:00Z"), Clicks: 3},
}

func TestYOURLS(t *testing.T) {
	db, dsn := yourlsDB(t)
	yourlsLinks(t, db, "yourls_url")
	src, err := OpenYOURLS(context.Background(), YOURLSOptions{DSN: dsn, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got := src.Progress().Total; got != 7 {
		t.Errorf("Total = %d, want 7 rows", got)
	}
	d := drain(t, src)
	if err := sameRecords(d.recs, yourlsWant, false); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(d.order); got != "[Docs !blank docs nodate ozh yourls ünï]" {
		t.Errorf("order %s", got)
	}
	errContains(t, d.bad[0], "url is empty")
	if got := src.Progress().Read; got != 7 {
		t.Errorf("Read = %d, want 7", got)
	}
}

func TestYOURLSResume(t *testing.T) {
	db, dsn := yourlsDB(t)
	yourlsLinks(t, db, "yourls_url")
	checkResume(t, func(resume string) (Source, error) {
		src, err := OpenYOURLS(context.Background(), YOURLSOptions{DSN: dsn, BatchSize: 3, Resume: resume})
		if err == nil {
			t.Cleanup(func() { src.Close() })
		}
		return src, err
	})
}

func TestYOURLSPrefixAndZone(t *testing.T) {
	db, dsn := yourlsDB(t)
	yourlsLinks(t, db, "short_url")
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	src, err := OpenYOURLS(context.Background(), YOURLSOptions{DSN: dsn + "?parseTime=true", Prefix: "short_", Location: paris})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d := drain(t, src)
	// A plugin set YOURLS to Paris time: 00:00 on 1 March is 23:00 UTC
	// the day before.
	if got := d.recs[1].CreatedAt; !got.Equal(at("2024-02-29T23:00:00Z")) {
		t.Errorf("docs created %v, want 2024-02-29T23:00:00Z", got)
	}
}

func TestYOURLSRefuses(t *testing.T) {
	db, dsn := yourlsDB(t)
	yourlsLinks(t, db, "yourls_url")
	for _, tt := range []struct {
		name string
		o    YOURLSOptions
		want string
	}{
		{"wrong prefix", YOURLSOptions{DSN: dsn, Prefix: "wp_"}, "check the prefix"},
		{"unsafe prefix", YOURLSOptions{DSN: dsn, Prefix: "x`; DROP TABLE yourls_url; --"}, "only letters"},
		{"bad DSN", YOURLSOptions{DSN: "not a dsn"}, "DSN"},
		{"foreign token", YOURLSOptions{DSN: dsn, Resume: "src=csv&read=1"}, "cannot resume"},
	} {
		src, err := OpenYOURLS(context.Background(), tt.o)
		if err == nil {
			src.Close()
		}
		errContains(t, err, tt.want)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM yourls_url").Scan(&n); err != nil || n != 7 {
		t.Errorf("the table after the refusals: %d rows, %v", n, err)
	}
}

func TestYOURLSCancel(t *testing.T) {
	db, dsn := yourlsDB(t)
	yourlsLinks(t, db, "yourls_url")
	src, err := OpenYOURLS(context.Background(), YOURLSOptions{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Next(cancelled()); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a cancelled context: %v", err)
	}
	if _, err := OpenYOURLS(cancelled(), YOURLSOptions{DSN: dsn}); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("OpenYOURLS on a cancelled context: %v", err)
	}
}
