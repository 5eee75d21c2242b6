package importer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/exporter"
	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// engine is what the tests need of a store.
type engine interface {
	importer.Store
	link.Store
	shortcode.Counter
}

func engines(t *testing.T) map[string]func(t *testing.T) engine {
	return map[string]func(t *testing.T) engine{
		"sqlite": func(t *testing.T) engine { return sqlitetest.Open(t) },
		"postgres": func(t *testing.T) engine {
			db, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.Database(t), MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return db
		},
	}
}

func generator(t testing.TB, counter shortcode.Counter) link.BatchGenerator {
	perm, err := shortcode.NewPermutation(bytes.Repeat([]byte{7}, shortcode.KeyLength))
	if err != nil {
		t.Fatal(err)
	}
	return shortcode.NewGenerator(perm, counter, 0)
}

// source is a file in Shortlinks' CSV format with a case on every line.
const source = `url,code,created_at,expires_at
https://fresh.example/,fresh,2024-03-01T10:00:00Z,
https://expiring.example/,expiring,,2031-01-01T00:00:00Z
https://same.example/,same,,
https://other.example/,taken,,
https://again.example/,retired,,
https://twice.example/a,twice,,
https://twice.example/b,twice,,
https://short.example/,ab,,
https://reserved.example/,api,,
javascript:alert(1),script,,
https://generated.example/,,,
https://bad-time.example/,badtime,yesterday,
`

type want struct {
	result importer.Result
	reason string
}

var wants = map[string]want{
	"line 2":  {importer.Imported, ""},
	"line 3":  {importer.Imported, ""},
	"line 4":  {importer.Skipped, "already_imported"},
	"line 5":  {importer.Conflict, "code_taken"},
	"line 6":  {importer.Conflict, "code_retired"},
	"line 7":  {importer.Imported, ""},
	"line 8":  {importer.Conflict, "code_repeated"},
	"line 9":  {importer.Invalid, "invalid_alias"},
	"line 10": {importer.Invalid, "alias_reserved"},
	"line 11": {importer.Invalid, "url_scheme_not_allowed"},
	"line 12": {importer.Imported, ""},
	"line 13": {importer.Invalid, "unreadable"},
}

func TestImport(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			for _, dry := range []bool{true, false} {
				t.Run(fmt.Sprintf("dry=%v", dry), func(t *testing.T) { testImport(t, open(t), dry) })
			}
		})
	}
}

func testImport(t *testing.T, db engine, dry bool) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, l := range []link.Link{
		{Code: "same", URL: "https://same.example/", CreatedAt: now},
		{Code: "taken", URL: "https://mine.example/", CreatedAt: now},
		{Code: "retired", URL: "https://old.example/", CreatedAt: now},
	} {
		if _, err := db.Insert(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Delete(ctx, "retired"); err != nil {
		t.Fatal(err)
	}

	got := map[string]importer.Outcome{}
	im := importer.New(db, generator(t, db), importer.Options{
		Reserved: []string{"api"}, DryRun: dry, BatchSize: 4, // several batches
		Report: func(o importer.Outcome) {
			if _, dup := got[o.Ref]; dup {
				t.Errorf("%s reported twice", o.Ref)
			}
			got[o.Ref] = o
		},
	})
	src, err := transfer.OpenCSV(strings.NewReader(source), transfer.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := im.Run(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for ref, w := range wants {
		o, ok := got[ref]
		if !ok {
			t.Errorf("%s: no outcome", ref)
			continue
		}
		if o.Result != w.result || o.Reason != w.reason {
			t.Errorf("%s: %s (%s: %s), want %s (%s)", ref, o.Result, o.Reason, o.Message, w.result, w.reason)
		}
		if o.Result != importer.Imported && o.Result != importer.Skipped && o.Message == "" {
			t.Errorf("%s: %s without a message", ref, o.Result)
		}
	}
	if len(got) != len(wants) {
		t.Errorf("%d outcomes, want %d: %v", len(got), len(wants), got)
	}
	wantSum := importer.Summary{Read: 12, Imported: 4, Skipped: 1, Conflict: 3, Invalid: 4}
	resume := sum.Resume
	if resume == "" {
		t.Error("no resume token after the whole file")
	}
	sum.Resume = ""
	if sum != wantSum {
		t.Errorf("summary %+v, want %+v", sum, wantSum)
	}

	// What was imported redirects as it did at the source; nothing was
	// overwritten; a dry run stored nothing.
	check := func(code, url string, stored bool) {
		t.Helper()
		l, err := db.Get(ctx, link.Code(code))
		switch {
		case !stored && !errors.Is(err, link.ErrNotFound) && url == "":
			t.Errorf("%s stored by a dry run: %+v, %v", code, l, err)
		case stored && (err != nil || l.URL != url):
			t.Errorf("Get(%s) = %q, %v; want %s", code, l.URL, err, url)
		}
	}
	check("fresh", "https://fresh.example/", !dry)
	check("expiring", "https://expiring.example/", !dry)
	check("twice", "https://twice.example/a", !dry)
	check("taken", "https://mine.example/", true)
	check("same", "https://same.example/", true)
	if !dry {
		l, err := db.Get(ctx, "fresh")
		if err != nil || !l.CreatedAt.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("fresh kept created_at %v, %v; want 2024-03-01T10:00:00Z", l.CreatedAt, err)
		}
		gen := got["line 12"].Code
		if l, err := db.Get(ctx, gen); err != nil || l.URL != "https://generated.example/" {
			t.Errorf("generated code %q: %+v, %v", gen, l, err)
		}
		if l, err := db.Get(ctx, "expiring"); err != nil || !l.ExpiresAt.Equal(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("expiring kept expires_at %v, %v", l.ExpiresAt, err)
		}
	}
	for _, code := range []string{"ab", "api", "script", "badtime"} {
		if _, err := db.Get(ctx, link.Code(code)); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("refused record %s was stored: %v", code, err)
		}
	}
	if dry {
		return
	}

	// Running the same file again changes nothing but the records without
	// a code, which the resume token is for.
	again := importer.New(db, generator(t, db), importer.Options{Reserved: []string{"api"}})
	src, err = transfer.OpenCSV(strings.NewReader(source), transfer.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum2, err := again.Run(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Imported != 1 || sum2.Skipped != 4 {
		t.Errorf("second run: %+v; want only the codeless record imported and 4 skipped", sum2)
	}
	src, err = transfer.OpenCSV(strings.NewReader(source), transfer.FileOptions{Resume: resume})
	if err == nil {
		var sum3 importer.Summary
		sum3, err = again.Run(ctx, src)
		if err == nil && sum3.Read != 0 {
			t.Errorf("resumed after the end: %+v; want nothing read", sum3)
		}
	}
	if err != nil {
		t.Errorf("resume from %q: %v", resume, err)
	}
}

// TestResumeAfterFailure stops a source midway and carries on from the
// summary's token: every record is imported once.
func TestResumeAfterFailure(t *testing.T) {
	db := sqlitetest.Open(t)
	var b strings.Builder
	b.WriteString("url,code\n")
	for i := range 50 {
		fmt.Fprintf(&b, "https://example.com/%d,\n", i) // codeless: a rerun would repeat them
	}
	im := importer.New(db, generator(t, db), importer.Options{BatchSize: 10})
	src, err := transfer.OpenCSV(strings.NewReader(b.String()), transfer.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	sum, err := im.Run(ctx, &failing{Source: src, after: 25, cancel: cancel})
	if err == nil {
		t.Fatal("Run went on after its context ended")
	}
	if sum.Imported != 20 {
		t.Fatalf("imported %d before the failure, want the 2 whole batches of 10", sum.Imported)
	}
	src, err = transfer.OpenCSV(strings.NewReader(b.String()), transfer.FileOptions{Resume: sum.Resume})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := im.Run(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	if rest.Imported != 30 {
		t.Errorf("resumed run imported %d, want the other 30", rest.Imported)
	}
}

// failing ends its context after a number of records, as an interrupted
// import would.
type failing struct {
	transfer.Source
	after  int
	cancel context.CancelFunc
}

func (f *failing) Next(ctx context.Context) (transfer.Record, error) {
	if f.after == 0 {
		f.cancel()
		return transfer.Record{}, ctx.Err()
	}
	f.after--
	return f.Source.Next(ctx)
}

// TestImportKeepsOptions: what a record says of a link beyond its URL is
// stored, and export writes it back the same.
func TestImportKeepsOptions(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			const file = `url,code,title,tags,valid_since,max_visits,forward_query,disabled
https://a.example/,opts,Launch page,Launch|q3| launch ,2030-01-02T03:04:05Z,50,true,
https://b.example/,gone,,,,,,true
https://c.example/,badtags,,` + "a\x01b" + `,,,,
`
			got := map[string]importer.Outcome{}
			im := importer.New(db, generator(t, db), importer.Options{Report: func(o importer.Outcome) { got[o.Ref] = o }})
			src, err := transfer.OpenCSV(strings.NewReader(file), transfer.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := im.Run(t.Context(), src); err != nil {
				t.Fatal(err)
			}
			if o := got["line 4"]; o.Result != importer.Invalid || o.Reason != "invalid_tags" {
				t.Errorf("a tag with a control character: %+v", o)
			}
			ed, ok := any(db).(link.Editor)
			if !ok {
				t.Fatalf("%T is not a link.Editor", db)
			}
			l, err := ed.Find(t.Context(), "opts")
			if err != nil {
				t.Fatal(err)
			}
			if l.Title != "Launch page" || strings.Join(l.Tags, ",") != "launch,q3" || l.MaxVisits != 50 || !l.ForwardQuery ||
				!l.ValidFrom.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) || !l.DisabledAt.IsZero() {
				t.Errorf("opts stored as %+v", l)
			}
			if g, err := ed.Find(t.Context(), "gone"); err != nil || g.DisabledAt.IsZero() {
				t.Errorf("a record disabled at its source: %+v, %v; want a disabled link", g, err)
			}
			if r := exporter.Record(l); r.Title != l.Title || len(r.Tags) != 2 || r.MaxVisits != 50 || r.ForwardQuery == nil || !*r.ForwardQuery || !r.ValidSince.Equal(l.ValidFrom) {
				t.Errorf("export of opts: %+v", r)
			}
		})
	}
}
