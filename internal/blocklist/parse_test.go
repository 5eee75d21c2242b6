package blocklist

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// parseAll parses a list and returns its entries as "host:KEY" and "url:KEY".
func parseAll(t testing.TB, text string, f Format) (Format, []string, stats) {
	t.Helper()
	var got []string
	format, st, err := parse(strings.NewReader(text), f, func(e entry) {
		kind := "host:"
		if e.kind == URL {
			kind = "url:"
		}
		got = append(got, kind+e.key)
	})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return format, got, st
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		file        string
		format      Format
		want        []string
		skipped     int
		firstSkiped int
	}{
		{"domains.txt", Domains, []string{
			"host:evil.example", "host:wild.example", "host:adblock.example", "host:xn--bcher-bse-67a3d.example",
			"host:192.0.2.66", "host:[2001:db8::66]", "host:spaced.example",
		}, 2, 10},
		{"hosts", Hosts, []string{
			"host:ads.example", "host:tracker.example", "host:phish.example", "host:www.phish2.example", "host:ipv6-blocked.example",
		}, 2, 14},
		{"urls.txt", URLs, []string{
			"url:phishing.example/login.html", "url:mixed.example/Path?q=1", "url:198.51.100.7:8080/bins/x86",
		}, 2, 5},
		{"urlhaus.csv", CSV, []string{
			"url:198.51.100.23:39051/i", "url:files.example-cdn.test/dl/Invoice_2026.zip",
			"url:compromised.example/wp-content/x.php?id=1,2", "url:xn--bcher-kva.example/payload.exe",
		}, 1, 13},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			text := readTestdata(t, tt.file)
			for _, f := range []Format{tt.format, Auto} {
				format, got, st := parseAll(t, text, f)
				if format != tt.format {
					t.Errorf("read as %s, want %s", format, tt.format)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: entries\n%q\nwant\n%q", f, got, tt.want)
				}
				if st.entries != len(tt.want) || st.skipped != tt.skipped || st.firstSkipped != tt.firstSkiped {
					t.Errorf("%s: stats %+v, want %d entries, %d skipped from line %d", f, st, len(tt.want), tt.skipped, tt.firstSkiped)
				}
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	tests := []struct {
		name, text string
		format     Format
		want       []string
	}{
		{"CRLF and a byte order mark", "\ufeffa.example\r\nb.example\r\n", Domains, []string{"host:a.example", "host:b.example"}},
		{"no final newline", "a.example", Domains, []string{"host:a.example"}},
		{"trailing dot and case", "Evil.Example.\n", Domains, []string{"host:evil.example"}},
		{"numeric spellings of an address", "0x7f.1\n3221225985\n", Domains, []string{"host:127.0.0.1", "host:192.0.2.1"}},
		{"adblock rule with options is not a domain", "||a.example^$third-party\n", Domains, nil},
		{"hosts line with several names", "0.0.0.0 a.example b.example c.example\n", Hosts, []string{"host:a.example", "host:b.example", "host:c.example"}},
		{"hosts line naming only addresses", "0.0.0.0 0 00 127.1\n", Hosts, nil},
		{"hosts line with tabs", "0.0.0.0\ta.example\n", Hosts, []string{"host:a.example"}},
		{"URL without a path gets one", "http://a.example\n", URLs, []string{"url:a.example/"}},
		{"URL with only a query", "http://a.example?x=1\n", URLs, []string{"url:a.example/?x=1"}},
		{"URL with a default port and a fragment", "https://a.example:443/p#x\n", URLs, []string{"url:a.example/p"}},
		{"URL with non-ASCII path", "http://a.example/ü\n", URLs, []string{"url:a.example/%C3%BC"}},
		{"URL with a trailing-dot host", "http://a.example./p\n", URLs, []string{"url:a.example/p"}},
		{"CSV with an unquoted header row", "id,url,status\n1,http://a.example/x,online\n", CSV, []string{"url:a.example/x"}},
		{"CSV without a header takes the first URL", "\"1\",\"http://a.example/x\",\"http://b.example/\"\n", CSV, []string{"url:a.example/x"}},
		{"CSV with escaped quotes", "# id,url\n\"1\",\"http://a.example/\"\"q\"\"\"\n", CSV, []string{"url:a.example/\"q\""}},
		{"CSV with an empty url field", "# id,url\n\"1\",\"\"\n", CSV, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, _ := parseAll(t, tt.text, tt.format)
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseLongLine(t *testing.T) {
	text := "a.example\n" + strings.Repeat("x", maxLine+10) + "\nb.example\n"
	_, got, st := parseAll(t, text, Domains)
	if !slices.Equal(got, []string{"host:a.example", "host:b.example"}) || st.skipped != 1 || st.firstSkipped != 2 || st.lines != 3 {
		t.Fatalf("entries %q, stats %+v", got, st)
	}
}

func TestSniff(t *testing.T) {
	for text, want := range map[string]Format{
		"":                                        Domains,
		"# comment only\n":                        Domains,
		"! adblock\n||a.example^\n":               Domains,
		"a.example\n":                             Domains,
		"# hosts\n127.0.0.1 localhost\n":          Hosts,
		"::1 localhost\n":                         Hosts,
		"http://a.example/\n":                     URLs,
		"https://a.example/?x=1,2,3\n":            URLs,
		"# id,dateadded,url,url_status\n":         CSV,
		"\"1\",\"http://a.example/\"\n":           CSV,
		"id,url\n1,http://a.example/\n":           CSV,
		"1,2026-01-01,http://a.example/,online\n": CSV,
	} {
		if got := sniff([]byte(text)); got != want {
			t.Errorf("sniff(%q) = %s, want %s", text, got, want)
		}
	}
}

func TestCSVFields(t *testing.T) {
	for in, want := range map[string][]string{
		`a,b,c`:           {"a", "b", "c"},
		`"a","b,c",d`:     {"a", "b,c", "d"},
		`"a""b",`:         {`a"b`, ""},
		`,`:               {"", ""},
		`""`:              {""},
		`"a"x`:            nil,
		`"unterminated`:   nil,
		`"a",""`:          {"a", ""},
		`"x","y""","z"""`: {"x", `y"`, `z"`},
	} {
		got, ok := csvFields(in)
		if ok != (want != nil) || !slices.Equal(got, want) {
			t.Errorf("csvFields(%q) = %q, %t; want %q", in, got, ok, want)
		}
	}
}

// checkEntries checks what every parser promises: each entry is canonical,
// and a Matcher made of the entries matches a URL made of each one.
func checkEntries(t *testing.T, format Format, text string) {
	var entries []entry
	got, st, err := parse(strings.NewReader(text), format, func(e entry) { entries = append(entries, e) })
	if err != nil {
		t.Fatalf("parse(%q): %v", text, err)
	}
	perLine := st.entries
	if format == Hosts { // a hosts line may name several hosts
		perLine = 0
	}
	if got != format || st.entries != len(entries) || perLine+st.skipped > st.lines {
		t.Fatalf("parse(%q): format %s, stats %+v, %d entries", text, got, st, len(entries))
	}
	m := newMatcher(testSeed, []string{"fuzz"}, 0, 0)
	for _, e := range entries {
		h := hashKey(m, e.key)
		if e.kind == URL {
			m.urls[h] = 1
		} else {
			m.hosts[h] = 1
		}
	}
	n := urlNormalizer()
	for _, e := range entries {
		var u string
		switch e.kind {
		case Host:
			if c, ok := canonicalHost(e.key); !ok || c != e.key || strings.HasSuffix(e.key, ".") {
				t.Fatalf("parse(%q): host entry %q is not canonical (%q)", text, e.key, c)
			}
			u = "http://" + e.key + "/x"
		case URL:
			// The key leaves out the scheme; one of the two gives it back
			// (the other may differ by a port that is its default).
			for _, scheme := range []string{"http://", "https://"} {
				if again, ok := urlEntry(n, scheme+e.key); ok && again.key == e.key {
					u = scheme + e.key
				}
			}
			if u == "" {
				t.Fatalf("parse(%q): URL entry %q is not canonical", text, e.key)
			}
		default:
			t.Fatalf("parse(%q): entry of kind %d", text, e.kind)
		}
		if _, ok := m.Match(u); !ok {
			t.Fatalf("parse(%q): entry %q does not match %q", text, e.key, u)
		}
	}
}

func FuzzParseDomains(f *testing.F) {
	f.Add("evil.example\n*.w.example\n||a.example^\n# c\n! c\nBÜCHER.example.\n0x7f.1\n2001:db8::1\n[::1]\n")
	f.Add(readTestdataF(f, "domains.txt"))
	f.Fuzz(func(t *testing.T, text string) { checkEntries(t, Domains, text) })
}

func FuzzParseHosts(f *testing.F) {
	f.Add("127.0.0.1 localhost\n0.0.0.0 a.example b.example # c\n:: c.example\n0.0.0.0 0.0.0.0\n")
	f.Add(readTestdataF(f, "hosts"))
	f.Fuzz(func(t *testing.T, text string) { checkEntries(t, Hosts, text) })
}

func FuzzParseURLs(f *testing.F) {
	f.Add("http://a.example/x\nHTTPS://B.example:443/?q#f\nhttp://0x7f.1/\nhttp://a.example\n")
	f.Add(readTestdataF(f, "urls.txt"))
	f.Fuzz(func(t *testing.T, text string) { checkEntries(t, URLs, text) })
}

func FuzzParseCSV(f *testing.F) {
	f.Add("# id,url\n\"1\",\"http://a.example/x\"\n1,http://b.example/\n\"2\",\"http://c.example/\"\"q\"\"\"\n")
	f.Add(readTestdataF(f, "urlhaus.csv"))
	f.Fuzz(func(t *testing.T, text string) { checkEntries(t, CSV, text) })
}

func readTestdataF(f *testing.F, name string) string {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}
