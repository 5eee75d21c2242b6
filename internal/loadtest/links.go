package loadtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

var (
	urlHosts = []string{
		"www.example.com", "news.example.org", "shop.example.net", "blog.example.io",
		"docs.example.dev", "media.example.co.uk", "events.example.com", "example.com",
	}
	urlSections = []string{"articles", "products", "posts", "guides", "watch", "events", "p", "stories", "docs/reference"}
	urlWords    = []string{
		"spring", "launch", "guide", "review", "best", "deal", "city", "travel", "music", "open",
		"source", "release", "notes", "how", "to", "build", "fast", "home", "garden", "summer",
		"winter", "sale", "report", "update", "new", "video", "live", "recipe", "health", "money",
	}
	urlQueries = []string{
		"", "", "", "?ref=share", "?utm_source=newsletter&utm_medium=email", "?id=%d", "?lang=en&page=2",
		"?utm_source=social&utm_campaign=launch-%d",
	}
)

// SyntheticURL returns a destination URL shaped like real ones: a few hosts,
// a dated path with a slug and an id, sometimes a query. They average about
// 80 bytes and are already in the form link.NormalizeURL gives, so a link
// stored with one is indistinguishable from one created through the API.
func SyntheticURL(r *rand.Rand) string {
	var b strings.Builder
	b.Grow(128)
	b.WriteString("https://")
	b.WriteString(urlHosts[r.IntN(len(urlHosts))])
	b.WriteByte('/')
	b.WriteString(urlSections[r.IntN(len(urlSections))])
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(2015 + r.IntN(11)))
	b.WriteByte('/')
	m := 1 + r.IntN(12)
	if m < 10 {
		b.WriteByte('0')
	}
	b.WriteString(strconv.Itoa(m))
	b.WriteByte('/')
	for i, n := 0, 3+r.IntN(4); i < n; i++ {
		b.WriteString(urlWords[r.IntN(len(urlWords))])
		b.WriteByte('-')
	}
	b.WriteString(strconv.Itoa(r.IntN(1_000_000)))
	if q := urlQueries[r.IntN(len(urlQueries))]; strings.Contains(q, "%d") {
		fmt.Fprintf(&b, q, r.IntN(100_000))
	} else {
		b.WriteString(q)
	}
	return b.String()
}

// Codes files hold one link per line: the code, then optionally a tab and
// the destination URL. 'shortlinks seed --codes-file' writes them; the load
// tester, the benchmark's wrk script and the baseline server read them.

// WriteLink writes one line of a codes file.
func WriteLink(w io.Writer, code, url string) error {
	_, err := fmt.Fprintf(w, "%s\t%s\n", code, url)
	return err
}

// ReadCodes reads the codes of a codes file, in order. Blank lines and
// lines starting with '#' are skipped.
func ReadCodes(r io.Reader) ([]string, error) {
	var codes []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		code, _, _ := strings.Cut(s, "\t")
		code = strings.TrimSpace(code)
		if strings.ContainsAny(code, " /?#") {
			return nil, fmt.Errorf("line %d: %q is not a code", line, code)
		}
		codes = append(codes, code)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(codes) == 0 {
		return nil, errors.New("no codes in the file")
	}
	return codes, nil
}
