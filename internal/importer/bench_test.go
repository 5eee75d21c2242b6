package importer_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// benchShapes are the rows the import benchmarks load: plain ones (URL,
// code, creation time), and ones that add a click count, a title and two
// tags, or all three.
var benchShapes = []struct{ name, header, row string }{
	{"plain", "url,code,created_at", "https://www.example.com/articles/%[1]s?utm_source=import,imp%[1]s,2024-01-02T03:04:05Z\n"},
	{"clicks", "url,code,created_at,clicks", "https://www.example.com/articles/%[1]s?utm_source=import,imp%[1]s,2024-01-02T03:04:05Z,%[2]d\n"},
	{"tags", "url,code,title,tags,created_at", "https://www.example.com/articles/%[1]s?utm_source=import,imp%[1]s,Article %[1]s,news|import,2024-01-02T03:04:05Z\n"},
	{"full", "url,code,title,tags,created_at,clicks", "https://www.example.com/articles/%[1]s?utm_source=import,imp%[1]s,Article %[1]s,news|import,2024-01-02T03:04:05Z,%[2]d\n"},
}

// benchImport loads n generated rows of each shape per iteration and
// reports links/s. Codes never repeat across iterations, so each
// iteration is a fresh import into a table that keeps growing.
func benchImport(b *testing.B, store importer.Store, counter shortcode.Counter, n int, name string, shape int, checkFirst bool) {
	bc := benchShapes[shape]
	im := importer.New(store, generator(b, counter), importer.Options{})
	if checkFirst {
		importer.CheckFirst(im)
	}
	b.Run(name, func(b *testing.B) {
		var i int
		for b.Loop() {
			b.StopTimer()
			var buf strings.Builder
			buf.WriteString(bc.header + "\n")
			for j := range n {
				fmt.Fprintf(&buf, bc.row, fmt.Sprintf("%s-%s-%d-%d", name, bc.name, i, j), j%1000)
			}
			i++
			b.StartTimer()
			src, err := transfer.OpenCSV(strings.NewReader(buf.String()), transfer.FileOptions{})
			if err != nil {
				b.Fatal(err)
			}
			sum, err := im.Run(b.Context(), src)
			if err != nil || sum.Imported != int64(n) {
				b.Fatalf("imported %d of %d: %v", sum.Imported, n, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "links/s")
	})
}

// BenchmarkImportPostgres loads 100,000 generated rows of Shortlinks CSV
// into PostgreSQL through the same importer as the CLI, from parsing to
// commit. baseline is plain rows stored as imports stored them before:
// each batch's codes looked up first, then one COPY. The others store each
// batch at once (looking up only after a batch that found codes in use),
// with ids drawn for the links that have tags or clicks, so that those go
// in by COPY too. Compare each with baseline of the same run.
func BenchmarkImportPostgres(b *testing.B) {
	db, err := postgres.Open(b.Context(), postgres.Options{URL: pgtest.Database(b), MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	benchImport(b, db, db, n, "baseline", 0, true)
	for i, s := range benchShapes {
		benchImport(b, db, db, n, s.name, i, false)
	}
}

// BenchmarkImportSQLite loads 20,000 generated rows of each shape into
// SQLite; baseline is the plain rows, each batch looked up first.
func BenchmarkImportSQLite(b *testing.B) {
	db := sqlitetest.Open(b)
	const n = 20_000
	benchImport(b, db, db, n, "baseline", 0, true)
	for i, s := range benchShapes {
		benchImport(b, db, db, n, s.name, i, false)
	}
}
