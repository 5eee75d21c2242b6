package blocklist

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Format is how a list file is written.
type Format string

// The formats a list can be in.
const (
	// Auto decides from the first lines of the file.
	Auto Format = "auto"
	// Domains is one domain (or IP address) per line. "*.example.com" and
	// the ad-blocker form "||example.com^" mean example.com. '#' starts a
	// comment, and lines starting with '!' or '[' are ad-blocker comments.
	Domains Format = "domains"
	// Hosts is a hosts file: an address, then one or more host names, as in
	// "0.0.0.0 evil.example". The address is ignored, and so are the names
	// every hosts file has (localhost, broadcasthost, ip6-allnodes …).
	Hosts Format = "hosts"
	// URLs is one URL per line; lines starting with '#' are comments.
	URLs Format = "urls"
	// CSV is comma-separated values, as URLhaus publishes them: '#' lines
	// are comments, one of which may be the header naming the columns; the
	// column named "url" is read, or without a header the first field that
	// is an http(s) URL.
	CSV Format = "csv"
)

// formats lists the formats by name, for ParseFormat.
var formats = []Format{Auto, Domains, Hosts, URLs, CSV}

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown blocklist format %q: use auto, domains, hosts, urls or csv", s)
}

// maxLine is the longest line read; longer ones are skipped. It is far
// beyond any URL a link may hold.
const maxLine = 64 << 10

// entry is one parsed entry. key is its canonical text: a host without a
// trailing dot, or a URL as splitURL keys it.
type entry struct {
	kind Kind
	key  string
}

// stats counts what a parse saw. Lines that are blank or comments are
// neither entries nor skipped.
type stats struct {
	lines, entries, skipped int
	firstSkipped            int    // line number of the first skipped line
	firstSkippedText        string // and its text, cut short
}

func (s *stats) skip(no int, line string) {
	s.skipped++
	if s.firstSkipped == 0 {
		s.firstSkipped = no
		if len(line) > 80 {
			line = line[:80] + "…"
		}
		s.firstSkippedText = line
	}
}

// parse reads a list in format f (Auto: sniffed from the start), calling add
// for each entry. It returns the format it read. Lines it cannot read are
// counted in stats, not errors: public lists carry the odd malformed line.
// Only a failure to read is an error.
func parse(r io.Reader, f Format, add func(entry)) (Format, stats, error) {
	br := bufio.NewReaderSize(r, maxLine)
	if f == Auto {
		head, _ := br.Peek(maxLine)
		f = sniff(head)
	}
	var st stats
	count := func(e entry) {
		st.entries++
		add(e)
	}
	var lineFn func(line string) (comment bool, ok bool)
	switch f {
	case Domains:
		lineFn = func(line string) (bool, bool) { return parseDomainLine(line, count) }
	case Hosts:
		lineFn = func(line string) (bool, bool) { return parseHostsLine(line, count) }
	case URLs:
		n := urlNormalizer()
		lineFn = func(line string) (bool, bool) { return parseURLLine(n, line, count) }
	case CSV:
		c := &csvParser{col: -1, norm: urlNormalizer()}
		lineFn = func(line string) (bool, bool) { return c.line(line, count) }
	default:
		return f, st, fmt.Errorf("unknown blocklist format %q", f)
	}
	err := eachLine(br, func(no int, line string, tooLong bool) {
		st.lines++
		if tooLong {
			st.skip(no, "(a line longer than 64 KiB)")
			return
		}
		if comment, ok := lineFn(line); !comment && !ok {
			st.skip(no, line)
		}
	})
	return f, st, err
}

// urlNormalizer normalises URL entries as links are normalised, with room
// for any length a service may be configured to take.
func urlNormalizer() *link.Normalizer {
	return link.NewNormalizer(link.URLRules{MaxLength: maxLine})
}

// eachLine calls fn with each line of br, without its line ending (or a
// leading byte order mark). A line longer than maxLine is passed as
// tooLong, without its text.
func eachLine(br *bufio.Reader, fn func(no int, line string, tooLong bool)) error {
	for no := 1; ; no++ {
		b, err := br.ReadSlice('\n')
		tooLong := false
		for err == bufio.ErrBufferFull {
			tooLong = true
			_, err = br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("line %d: %w", no, err)
		}
		if len(b) > 0 || tooLong {
			b = bytes.TrimRight(b, "\r\n")
			if no == 1 {
				b = bytes.TrimPrefix(b, []byte("\ufeff"))
			}
			fn(no, string(b), tooLong)
		}
		if err == io.EOF {
			return nil
		}
	}
}

// sniff guesses the format from the first lines of a file.
func sniff(head []byte) Format {
	for n, raw := range strings.Split(string(head), "\n") {
		if n > 200 {
			break
		}
		t := strings.TrimSpace(strings.TrimPrefix(raw, "\ufeff"))
		switch {
		case t == "" || t[0] == '!' || t[0] == '[':
			continue
		case t[0] == '#':
			if _, ok := csvHeader(t[1:]); ok {
				return CSV
			}
			continue
		case t[0] == '"':
			return CSV
		}
		if _, ok := csvHeader(t); ok {
			return CSV
		}
		fields := strings.Fields(stripComment(t))
		if len(fields) >= 2 {
			if _, err := netip.ParseAddr(fields[0]); err == nil {
				return Hosts
			}
		}
		if lt := strings.ToLower(t); strings.HasPrefix(lt, "http://") || strings.HasPrefix(lt, "https://") {
			return URLs // commas in a URL's query do not make a CSV row
		}
		if strings.Contains(t, "://") && strings.Count(t, ",") >= 2 {
			return CSV
		}
		return Domains
	}
	return Domains
}

func stripComment(line string) string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}

// parseDomainLine reads one line of a Domains list.
func parseDomainLine(line string, add func(entry)) (comment, ok bool) {
	t := strings.TrimSpace(line)
	if t != "" && (t[0] == '!' || t[0] == '[') {
		return true, false
	}
	t = stripComment(t)
	if t == "" {
		return true, false
	}
	if strings.HasPrefix(t, "||") {
		var found bool
		if t, found = strings.CutSuffix(t[2:], "^"); !found {
			return false, false
		}
	}
	t = strings.TrimPrefix(t, "*.")
	h, ok := canonicalHost(t)
	if !ok {
		return false, false
	}
	add(entry{kind: Host, key: h})
	return false, true
}

// localNames are the names every hosts file maps to this machine; a hosts
// file used as a blocklist lists them too, and they block nothing.
var localNames = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "local": true, "broadcasthost": true,
	"ip6-localhost": true, "ip6-loopback": true, "ip6-localnet": true, "ip6-mcastprefix": true,
	"ip6-allnodes": true, "ip6-allrouters": true, "ip6-allhosts": true,
}

// parseHostsLine reads one line of a hosts file.
func parseHostsLine(line string, add func(entry)) (comment, ok bool) {
	fields := strings.Fields(stripComment(line))
	if len(fields) == 0 {
		return true, false
	}
	if len(fields) < 2 {
		return false, false
	}
	if _, err := netip.ParseAddr(fields[0]); err != nil {
		return false, false
	}
	for _, name := range fields[1:] {
		if localNames[strings.ToLower(name)] {
			ok = true // the line is well-formed; the name blocks nothing
			continue
		}
		h, good := canonicalHost(name)
		if !good {
			continue
		}
		if isIP(h) {
			ok = true // "0.0.0.0 0.0.0.0": an address is not a name
			continue
		}
		add(entry{kind: Host, key: h})
		ok = true
	}
	return false, ok
}

// parseURLLine reads one line of a URL list.
func parseURLLine(n *link.Normalizer, line string, add func(entry)) (comment, ok bool) {
	t := strings.TrimSpace(line)
	if t == "" || t[0] == '#' || t[0] == '!' {
		return true, false
	}
	e, ok := urlEntry(n, t)
	if !ok {
		return false, false
	}
	add(e)
	return false, true
}

// csvParser reads CSV lines, remembering the url column once a header names
// it.
type csvParser struct {
	col  int // -1: not known; take the first field that is a URL
	norm *link.Normalizer
}

func (c *csvParser) line(line string, add func(entry)) (comment, ok bool) {
	t := strings.TrimSpace(line)
	if t == "" {
		return true, false
	}
	if t[0] == '#' {
		if col, ok := csvHeader(t[1:]); ok {
			c.col = col
		}
		return true, false
	}
	if col, ok := csvHeader(t); ok {
		c.col = col
		return true, false
	}
	fields, ok := csvFields(t)
	if !ok {
		return false, false
	}
	u := ""
	switch {
	case c.col >= 0 && c.col < len(fields):
		u = fields[c.col]
	case c.col < 0:
		for _, f := range fields {
			if lf := strings.ToLower(f); strings.HasPrefix(lf, "http://") || strings.HasPrefix(lf, "https://") {
				u = f
				break
			}
		}
	}
	e, ok := urlEntry(c.norm, strings.TrimSpace(u))
	if !ok {
		return false, false
	}
	add(e)
	return false, true
}

// csvHeader reports whether s is a header row naming a "url" column, and
// which one.
func csvHeader(s string) (int, bool) {
	if strings.Contains(s, "://") || strings.Count(s, ",") < 1 {
		return 0, false
	}
	fields, ok := csvFields(strings.TrimSpace(s))
	if !ok {
		return 0, false
	}
	for i, f := range fields {
		if strings.EqualFold(strings.TrimSpace(f), "url") {
			return i, true
		}
	}
	return 0, false
}

// csvFields splits one CSV record: fields separated by commas, each either
// bare or in double quotes with "" for a quote. A record never spans lines
// in the lists read here.
func csvFields(s string) ([]string, bool) {
	var fields []string
	for {
		if !strings.HasPrefix(s, `"`) {
			f, rest, more := strings.Cut(s, ",")
			fields = append(fields, f)
			if !more {
				return fields, true
			}
			s = rest
			continue
		}
		var b strings.Builder
		i := 1
		for {
			j := strings.IndexByte(s[i:], '"')
			if j < 0 {
				return nil, false
			}
			b.WriteString(s[i : i+j])
			i += j + 1
			if i < len(s) && s[i] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			break
		}
		fields = append(fields, b.String())
		s = s[i:]
		if s == "" {
			return fields, true
		}
		if s[0] != ',' {
			return nil, false
		}
		s = s[1:]
	}
}

// canonicalHost brings a listed host into the form link.NormalizeURL gives
// hosts, without the trailing dot. A bare IPv6 address is taken too.
func canonicalHost(s string) (string, bool) {
	if strings.Contains(s, ":") && !strings.HasPrefix(s, "[") {
		s = "[" + s + "]"
	}
	h, err := link.CanonicalHost(s)
	if err != nil {
		return "", false
	}
	return strings.TrimSuffix(h, "."), true
}

// urlEntry normalises a listed URL as links are normalised, so that a link
// to it is found whatever spelling either used.
func urlEntry(n *link.Normalizer, s string) (entry, bool) {
	if s == "" {
		return entry{}, false
	}
	u, err := n.Normalize(s)
	if err != nil {
		return entry{}, false
	}
	_, key, ok := splitURL(u)
	if !ok {
		return entry{}, false
	}
	return entry{kind: URL, key: key}, true
}
