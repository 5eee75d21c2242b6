package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// sampleRecords covers every field, and the text that is hard to carry:
// separators, quotes, line breaks, escapes and non-ASCII.
func sampleRecords(t testing.TB) []Record {
	return []Record{
		{
			Code: "docs", Domain: "s.example", URL: "https://example.com/docs?a=1&b=2",
			Title: "Docs, \"quoted\" and\nmulti-line", Tags: []string{"work", "a|b", `back\slash`, "ünï"},
			CreatedAt:  mustTime(t, "2024-03-01T12:30:45.123456789Z"),
			ExpiresAt:  mustTime(t, "2030-01-01T00:00:00Z"),
			ValidSince: mustTime(t, "2024-03-02T00:00:00Z"),
			MaxVisits:  100, ForwardQuery: ptr(true), Clicks: 12345,
		},
		{URL: "https://example.com/only-url"},
		{Code: "off", URL: "https://example.com/off", ForwardQuery: ptr(false), Disabled: true, Title: "  spaced  "},
		{Code: "日本", URL: "https://例え.jp/パス", Title: "タイトル", Tags: []string{"x"}, Clicks: 1},
		{Code: "comma", URL: "https://example.com/a,b", Title: "=SUM(A1)", CreatedAt: mustTime(t, "1999-12-31T23:59:59Z")},
	}
}

func writeAll(t testing.TB, f Format, recs []Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%s): %v", show(r), err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openBytes(t testing.TB, f Format, b []byte) Source {
	t.Helper()
	src, err := OpenFile(bytes.NewReader(b), f, FileOptions{})
	if err != nil {
		t.Fatalf("open %s: %v", f, err)
	}
	return src
}

func TestRoundTrip(t *testing.T) {
	want := sampleRecords(t)
	for _, f := range []Format{CSV, JSONL} {
		t.Run(string(f), func(t *testing.T) {
			b := writeAll(t, f, want)
			d := drain(t, openBytes(t, f, b))
			if len(d.bad) > 0 {
				t.Fatalf("row errors reading back: %v", d.bad)
			}
			if err := sameRecords(d.recs, want, true); err != nil {
				t.Fatalf("%v\nfile:\n%s", err, b)
			}
			// A second trip through the writer gives the same bytes.
			if again := writeAll(t, f, d.recs); !bytes.Equal(again, b) {
				t.Errorf("rewriting changed the file:\n%s\nthen\n%s", b, again)
			}
		})
	}
}

func TestCSVLayout(t *testing.T) {
	b := writeAll(t, CSV, sampleRecords(t)[:2])
	want := "url,code,domain,title,tags,created_at,expires_at,valid_since,max_visits,forward_query,disabled,clicks\n" +
		"https://example.com/docs?a=1&b=2,docs,s.example,\"Docs, \"\"quoted\"\" and\nmulti-line\",work|a\\|b|back\\\\slash|ünï," +
		"2024-03-01T12:30:45.123456789Z,2030-01-01T00:00:00Z,2024-03-02T00:00:00Z,100,true,,12345\n" +
		"https://example.com/only-url,,,,,,,,,,,0\n"
	if string(b) != want {
		t.Errorf("CSV:\n%s\nwant\n%s", b, want)
	}
	j := writeAll(t, JSONL, sampleRecords(t)[1:3])
	wantJ := `{"url":"https://example.com/only-url","clicks":0}` + "\n" +
		`{"url":"https://example.com/off","code":"off","title":"  spaced  ","forward_query":false,"disabled":true,"clicks":0}` + "\n"
	if string(j) != wantJ {
		t.Errorf("JSONL:\n%s\nwant\n%s", j, wantJ)
	}
}

func TestEmptyExport(t *testing.T) {
	b := writeAll(t, CSV, nil)
	if string(b) != strings.Join(Columns, ",")+"\n" {
		t.Errorf("empty CSV export = %q, want the header alone", b)
	}
	for _, f := range []Format{CSV, JSONL} {
		d := drain(t, openBytes(t, f, writeAll(t, f, nil)))
		if len(d.order) != 0 {
			t.Errorf("%s: empty export read back as %v", f, d.order)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	for _, f := range []Format{CSV, JSONL} {
		w, _ := NewWriter(io.Discard, f)
		for name, r := range map[string]Record{
			"no url":          {Code: "x"},
			"blank url":       {URL: "  "},
			"negative clicks": {URL: "https://e.x/", Clicks: -1},
			"negative max":    {URL: "https://e.x/", MaxVisits: -1},
			"not utf-8":       {URL: "https://e.x/", Title: "\xff"},
		} {
			if err := w.Write(r); err == nil {
				t.Errorf("%s: Write(%s) succeeded", f, name)
			}
		}
	}
	if _, err := NewWriter(io.Discard, BitlyCSV); err == nil {
		t.Error("NewWriter(bitly-csv) succeeded; it is read-only")
	}
}

func TestCSVHeader(t *testing.T) {
	for _, tt := range []struct{ name, file, want string }{
		{"empty file", "", "empty"},
		{"unknown column", "url,code,colour\n", `unknown column "colour"`},
		{"repeated column", "url,code,URL\n", "twice"},
		{"no url column", "code,title\n", "no url column"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenCSV(strings.NewReader(tt.file), FileOptions{})
			errContains(t, err, tt.want)
		})
	}
}

func TestCSVLoose(t *testing.T) {
	// Any order, a subset of the columns, upper case, a byte order mark
	// and CRLF line endings, as a spreadsheet saves it.
	file := "\ufeffTitle,URL,Tags,Clicks\r\n" +
		"Hello, https://example.com/a , one | two |one,7\r\n" +
		",https://example.com/b,,\r\n"
	d := drain(t, openBytes(t, CSV, []byte(file)))
	want := []Record{
		{Ref: "line 2", URL: "https://example.com/a", Title: "Hello", Tags: []string{"one", "two"}, Clicks: 7},
		{Ref: "line 3", URL: "https://example.com/b"},
	}
	if err := sameRecords(d.recs, want, false); err != nil {
		t.Fatal(err)
	}
}

func TestCSVRowErrors(t *testing.T) {
	file := "url,code,created_at,max_visits,forward_query,disabled,clicks\n" +
		"https://example.com/1,ok1,,,,,\n" + // line 2
		"https://example.com/2,bad,yesterday,,,,\n" + // 3
		"https://example.com/3,bad,,-1,,,\n" + // 4
		"https://example.com/4,bad,,,maybe,,\n" + // 5
		"https://example.com/5,bad,,,,perhaps,\n" + // 6
		"https://example.com/6,bad,,,,,1.5\n" + // 7
		",bad,,,,,\n" + // 8
		"https://example.com/8,bad\n" + // 9: too few fields
		"https://example.com/9,b\"ad,,,,,\n" + // 10: bare quote
		"https://example.com/10,\xffbad,,,,,\n" + // 11: not UTF-8
		"https://example.com/11,ok2,2024-01-01T00:00:00+02:00,5,1,0,3\n" // 12
	d := drain(t, openBytes(t, CSV, []byte(file)))
	wantOrder := []string{"line 2", "!line 3", "!line 4", "!line 5", "!line 6", "!line 7", "!line 8", "!line 9", "!line 10", "!line 11", "line 12"}
	if fmt.Sprint(d.order) != fmt.Sprint(wantOrder) {
		t.Fatalf("order %v\nwant  %v", d.order, wantOrder)
	}
	last := d.recs[1]
	if last.Code != "ok2" || !last.CreatedAt.Equal(mustTime(t, "2023-12-31T22:00:00Z")) || last.MaxVisits != 5 ||
		last.ForwardQuery == nil || !*last.ForwardQuery || last.Disabled || last.Clicks != 3 {
		t.Errorf("last record %s", show(last))
	}
	for i, word := range []string{"created_at", "max_visits", "forward_query", "disabled", "clicks", "url is empty", "fields", "quote", "UTF-8"} {
		errContains(t, d.bad[i], word)
	}
}

func TestJSONLRowErrors(t *testing.T) {
	long := `{"url":"https://example.com/` + strings.Repeat("x", maxLine) + `"}`
	file := `{"url":"https://example.com/1","code":"ok1","tags":[" a ","b","a",""]}` + "\n" + // 1
		"\n   \n" + // 2, 3: blank, skipped
		`{"url":"https://example.com/2","colour":"red"}` + "\n" + // 4
		`{"url":"https://example.com/3"} {"url":"x"}` + "\n" + // 5
		`{"url":` + "\n" + // 6
		`{"url":"https://example.com/4","created_at":1700000000}` + "\n" + // 7
		`{"url":"https://example.com/5","clicks":-2}` + "\n" + // 8
		long + "\n" + // 9
		`{"code":"nourl"}` + "\n" + // 10
		`{"url":"https://example.com/6","code":"ok2","expires_at":"2030-01-01T00:00:00Z"}` // 11, no final newline
	d := drain(t, openBytes(t, JSONL, []byte(file)))
	wantOrder := []string{"line 1", "!line 4", "!line 5", "!line 6", "!line 7", "!line 8", "!line 9", "!line 10", "line 11"}
	if fmt.Sprint(d.order) != fmt.Sprint(wantOrder) {
		t.Fatalf("order %v\nwant  %v", d.order, wantOrder)
	}
	if got := d.recs[0].Tags; fmt.Sprint(got) != "[a b]" {
		t.Errorf("tags = %q, want [a b]", got)
	}
	for i, word := range []string{"colour", "more than one", "unexpected EOF", "created_at", "negative", "longer than", "url is empty"} {
		errContains(t, d.bad[i], word)
	}
}

// nonSeeker hides a reader's Seek method, as standard input would.
type nonSeeker struct{ io.Reader }

func TestResume(t *testing.T) {
	recs := sampleRecords(t)
	bitly := "Link,Custom link,Destination URL,Clicks\n" +
		"https://bit.ly/3a,https://brand.co/one,https://example.com/1,4\n" +
		"bad\n" +
		"https://bit.ly/3b,,https://example.com/2,0\n" +
		"https://bit.ly/3c,https://brand.co/x https://brand.co/y,https://example.com/3,9\n"
	files := map[Format][]byte{
		CSV:      append(writeAll(t, CSV, recs), "not,a,good,row\n"...),
		JSONL:    append(writeAll(t, JSONL, recs), "{\n"...),
		BitlyCSV: []byte(bitly),
	}
	for f, b := range files {
		full := drain(t, openBytes(t, f, b))
		for _, seekable := range []bool{true, false} {
			for cut := 0; cut <= len(full.order); cut++ {
				name := fmt.Sprintf("%s/seek=%v/cut=%d", f, seekable, cut)
				first := openBytes(t, f, b)
				head, err := drainErr(first, cut)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var r io.Reader = bytes.NewReader(b)
				if !seekable {
					r = nonSeeker{r}
				}
				p := first.Progress()
				if cut == 0 && p.Resume != "" {
					t.Errorf("%s: a token before anything was read: %q", name, p.Resume)
				}
				second, err := OpenFile(r, f, FileOptions{Resume: p.Resume})
				if err != nil {
					t.Fatalf("%s: resume with %q: %v", name, p.Resume, err)
				}
				tail := drain(t, second)
				got := append(append([]string(nil), head.order...), tail.order...)
				if fmt.Sprint(got) != fmt.Sprint(full.order) {
					t.Errorf("%s: token %q\n got  %v\n want %v", name, p.Resume, got, full.order)
				}
				if err := sameRecords(append(head.recs, tail.recs...), full.recs, false); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if got, want := second.Progress().Read, drainedEntries(t, f, b); got != want {
					t.Errorf("%s: Read = %d after resuming, want %d", name, got, want)
				}
			}
		}
	}
}

// drainedEntries is the Read count of a source that read all of b.
func drainedEntries(t *testing.T, f Format, b []byte) int64 {
	src := openBytes(t, f, b)
	drain(t, src)
	return src.Progress().Read
}

func TestResumeRefuses(t *testing.T) {
	b := writeAll(t, CSV, sampleRecords(t))
	src := openBytes(t, CSV, b)
	drainErr(src, 2)
	tok := src.Progress().Resume

	if _, err := OpenJSONL(bytes.NewReader(b), FileOptions{Resume: tok}); !errors.Is(err, ErrResume) {
		t.Errorf("a CSV token on a JSONL source: %v, want ErrResume", err)
	}
	short := b[:len(b)/4]
	if _, err := OpenCSV(nonSeeker{bytes.NewReader(short)}, FileOptions{Resume: tok}); !errors.Is(err, ErrResume) {
		t.Errorf("a token past the end of the file: %v, want ErrResume", err)
	}
	if _, err := OpenCSV(bytes.NewReader(b), FileOptions{Resume: "src=csv&read=x"}); !errors.Is(err, ErrResume) {
		t.Errorf("a garbled token: %v, want ErrResume", err)
	}
}

func TestFileCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := openBytes(t, CSV, writeAll(t, CSV, sampleRecords(t)))
	if _, err := src.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a cancelled context: %v", err)
	}
}

func TestTags(t *testing.T) {
	for _, tags := range [][]string{nil, {"a"}, {"a", "b"}, {`a\`, `|`, `\|`, `x\\y`, "a|"}} {
		got := splitTags(joinTags(tags))
		if len(tags) == 0 {
			got = cleanTags(got)
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tags) && !(len(got) == 0 && len(tags) == 0) {
			t.Errorf("splitTags(joinTags(%q)) = %q", tags, got)
		}
	}
	if got := splitTags(`a\b|c`); fmt.Sprint(got) != `[a\b c]` {
		t.Errorf("a stray backslash: %q", got)
	}
}

// FuzzCSV reads anything as Shortlinks CSV: no panic, every record holds a
// URL and UTF-8 text, and what it reads writes out and reads back the same.
func FuzzCSV(f *testing.F) {
	f.Add(writeAll(f, CSV, sampleRecords(f)))
	f.Add([]byte("url,tags\nhttps://e.x/,a\\|b|\\\\\n"))
	f.Add([]byte("url,title\n\"https://e.x/\",\"a\r\nb\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) { checkReadBack(t, CSV, b) })
}

// FuzzJSONL is FuzzCSV for the JSON Lines format.
func FuzzJSONL(f *testing.F) {
	f.Add(writeAll(f, JSONL, sampleRecords(f)))
	f.Add([]byte(`{"url":"https://e.x/","tags":["\u0000"],"forward_query":null}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkReadBack(t, JSONL, b) })
}

func checkReadBack(t *testing.T, f Format, b []byte) {
	src, err := OpenFile(bytes.NewReader(b), f, FileOptions{})
	if err != nil {
		return
	}
	d, err := drainErr(src, -1)
	if err != nil {
		t.Fatalf("fatal error from an in-memory file: %v", err)
	}
	checkRecords(t, d.recs)
	again := drain(t, openBytes(t, f, writeAll(t, f, d.recs)))
	if len(again.bad) > 0 {
		t.Fatalf("what was read does not read back: %v", again.bad[0])
	}
	if err := sameRecords(again.recs, d.recs, true); err != nil {
		t.Fatal(err)
	}
}

// checkRecords checks what every source promises of its records.
func checkRecords(t *testing.T, recs []Record) {
	t.Helper()
	for _, r := range recs {
		if strings.TrimSpace(r.URL) == "" || r.Ref == "" {
			t.Fatalf("a record without URL or Ref: %s", show(r))
		}
		if err := checkText(&r); err != nil {
			t.Fatalf("%s: %v", show(r), err)
		}
		if r.Clicks < 0 || r.MaxVisits < 0 {
			t.Fatalf("negative counts: %s", show(r))
		}
		if fmt.Sprint(cleanTags(r.Tags)) != fmt.Sprint(r.Tags) || (r.Tags != nil && len(r.Tags) == 0) {
			t.Fatalf("tags not clean: %q", r.Tags)
		}
		for _, tm := range []struct {
			name string
			loc  string
		}{{"created", r.CreatedAt.Location().String()}, {"expires", r.ExpiresAt.Location().String()}, {"since", r.ValidSince.Location().String()}} {
			if tm.loc != "UTC" {
				t.Fatalf("%s time not in UTC: %s", tm.name, show(r))
			}
		}
	}
}
