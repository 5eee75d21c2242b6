package transfer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openFixture(t *testing.T, f Format, name string) Source {
	t.Helper()
	file, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	src, err := OpenFile(file, f, FileOptions{})
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	return src
}

func TestShlinkCSVExport(t *testing.T) {
	d := drain(t, openFixture(t, ShlinkCSV, "shlink/short_urls.csv"))
	want := []Record{
		{Ref: "line 2", Code: "12C18", Domain: "s.test", URL: "https://store.steampowered.com", Title: "Welcome to Steam",
			Tags: []string{"games", "tech"}, CreatedAt: mustTime(t, "2016-08-21T18:34:16Z"), Clicks: 328},
		{Ref: "line 3", Code: "12Kb3", Domain: "s.test", URL: "https://shlink.io", Tags: []string{"shlink"},
			CreatedAt: mustTime(t, "2016-05-01T18:34:16Z"), Clicks: 1029},
		{Ref: "line 4", Code: "123bA", Domain: "example.com", URL: "https://www.google.com",
			CreatedAt: mustTime(t, "2015-10-01T18:34:16Z"), Clicks: 25},
		{Ref: "line 7", Code: "quoted", Domain: "s.test", URL: `https://example.com/?q="x",y`, Title: `Say "hi", then leave`,
			Tags: []string{"a", "b c"}, CreatedAt: mustTime(t, "2018-02-03T04:05:06Z"), Clicks: 7},
	}
	if err := sameRecords(d.recs, want, false); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(d.order); got != "[line 2 line 3 line 4 !line 5 !line 6 line 7]" {
		t.Errorf("order %s", got)
	}
	errContains(t, d.bad[0], "longUrl is empty")
	errContains(t, d.bad[1], "createdAt", "last tuesday")
}

func TestShlinkCSVImportFormat(t *testing.T) {
	d := drain(t, openFixture(t, ShlinkCSV, "shlink/import.csv"))
	want := []Record{
		{Ref: "line 2", Code: "first", URL: "https://example.com/a", Title: "Title A", Tags: []string{"foo", "bar"}},
		{Ref: "line 3", Domain: "links.example", URL: "https://example.com/b"},
		{Ref: "line 4", Code: "third", URL: "https://example.com/c", Tags: []string{"x", "y"}},
	}
	if err := sameRecords(d.recs, want, false); err != nil {
		t.Fatal(err)
	}
}

func TestShlinkCSVShortURL(t *testing.T) {
	d := drain(t, openFixture(t, ShlinkCSV, "shlink/short-url-only.csv"))
	want := []Record{{Ref: "line 2", Code: "abc", Domain: "s.example", URL: "https://example.com/a"}}
	if err := sameRecords(d.recs, want, false); err != nil {
		t.Fatal(err)
	}
	if len(d.bad) != 1 {
		t.Fatalf("row errors %v, want one for the bad shortUrl", d.bad)
	}
	errContains(t, d.bad[0], "line 3", "shortUrl")
}

func TestPeerCSVHeaders(t *testing.T) {
	for _, tt := range []struct {
		f      Format
		header string
		want   string
	}{
		{ShlinkCSV, "shortCode,title\n", "no longUrl column"},
		{BitlyCSV, "Title,Link\n", "destination URL column"},
		{BitlyCSV, "Destination URL,Title\n", "link column"},
		{BitlyCSV, "", "empty"},
	} {
		_, err := OpenFile(strings.NewReader(tt.header), tt.f, FileOptions{})
		errContains(t, err, tt.want)
	}
}

func TestBitlyCSV(t *testing.T) {
	d := drain(t, openFixture(t, BitlyCSV, "bitly/links.csv"))
	created := mustTime(t, "2023-05-04T10:11:12Z")
	want := []Record{
		{Ref: "line 2 (bit.ly/3xYzAbC)", Code: "3xYzAbC", Domain: "bit.ly", URL: "https://example.com/launch?utm_source=x",
			Title: "Launch page", Tags: []string{"launch", "2023"}, CreatedAt: created, Clicks: 1204},
		{Ref: "line 2 (brand.co/launch)", Code: "launch", Domain: "brand.co", URL: "https://example.com/launch?utm_source=x",
			Title: "Launch page", Tags: []string{"launch", "2023"}, CreatedAt: created},
		{Ref: "line 3 (bit.ly/3plain)", Code: "3plain", Domain: "bit.ly", URL: "https://example.com/plain",
			CreatedAt: mustTime(t, "2023-05-05T00:00:00Z")},
		{Ref: "line 5 (bit.ly/3old)", Code: "3old", Domain: "bit.ly", URL: "https://example.com/old", Title: "Old",
			CreatedAt: mustTime(t, "2019-05-07T13:45:00Z"), Clicks: 12},
	}
	if err := sameRecords(d.recs, want, false); err != nil {
		t.Fatal(err)
	}
	if len(d.bad) != 1 || d.bad[0].Ref != "line 4" {
		t.Fatalf("row errors %v, want line 4", d.bad)
	}
}

// FuzzShlinkCSV reads anything as a Shlink CSV export: no panic, and every
// record keeps the promises of a Record.
func FuzzShlinkCSV(f *testing.F) {
	for _, name := range []string{"shlink/short_urls.csv", "shlink/import.csv", "shlink/short-url-only.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkPeerFile(t, ShlinkCSV, b) })
}

// FuzzBitlyCSV is FuzzShlinkCSV for Bitly's export.
func FuzzBitlyCSV(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "bitly/links.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) { checkPeerFile(t, BitlyCSV, b) })
}

func checkPeerFile(t *testing.T, f Format, b []byte) {
	src, err := OpenFile(bytes.NewReader(b), f, FileOptions{})
	if err != nil {
		return
	}
	d, err := drainErr(src, -1)
	if err != nil {
		t.Fatalf("fatal error from an in-memory file: %v", err)
	}
	checkRecords(t, d.recs)
	// Whatever a peer's file holds can be written in our formats.
	for _, out := range []Format{CSV, JSONL} {
		w, _ := NewWriter(&bytes.Buffer{}, out)
		for _, r := range d.recs {
			if err := w.Write(r); err != nil {
				t.Fatalf("%s cannot hold %s: %v", out, show(r), err)
			}
		}
	}
}
