package transfer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Format names one of the file formats this package reads.
type Format string

// The file formats. CSV and JSONL are Shortlinks' own, written by export
// and described in docs/migrate.md; the others are peers' exports, read
// only.
const (
	CSV       Format = "csv"
	JSONL     Format = "jsonl"
	ShlinkCSV Format = "shlink-csv"
	BitlyCSV  Format = "bitly-csv"
)

// OpenFile returns a source over r in format f. r is read as needed and
// never closed.
func OpenFile(r io.Reader, f Format, o FileOptions) (Source, error) {
	switch f {
	case CSV:
		return OpenCSV(r, o)
	case JSONL:
		return OpenJSONL(r, o)
	case ShlinkCSV:
		return OpenShlinkCSV(r, o)
	case BitlyCSV:
		return OpenBitlyCSV(r, o)
	}
	return nil, fmt.Errorf("unknown format %q: use csv, jsonl, shlink-csv or bitly-csv", f)
}

// NewWriter returns a writer of f, which must be CSV or JSONL.
func NewWriter(w io.Writer, f Format) (Writer, error) {
	switch f {
	case CSV:
		return NewCSVWriter(w), nil
	case JSONL:
		return NewJSONLWriter(w), nil
	}
	return nil, fmt.Errorf("cannot write format %q: use csv or jsonl", f)
}

// Columns are the columns of Shortlinks' CSV format, in the order the
// writer puts them. A file may have them in any order, and all but url may
// be left out.
var Columns = []string{
	"url", "code", "domain", "title", "tags", "created_at", "expires_at",
	"valid_since", "max_visits", "forward_query", "disabled", "clicks",
}

// OpenCSV reads Shortlinks' CSV format: a header line naming columns from
// Columns, then one link a row. Unknown or repeated columns are an error, so
// that a file from a newer version is refused rather than read in part.
func OpenCSV(r io.Reader, o FileOptions) (Source, error) {
	rs, err := newCSVRows(r, true, func(header []string) (func([]string, string) ([]Record, error), error) {
		var idx [numColumns]int // where each of Columns is in a row, or -1
		for i := range idx {
			idx[i] = -1
		}
		for i, h := range header {
			c := column(strings.ToLower(strings.TrimSpace(h)))
			switch {
			case c < 0:
				return nil, fmt.Errorf("unknown column %q: the columns are %s", h, strings.Join(Columns, ", "))
			case idx[c] >= 0:
				return nil, fmt.Errorf("column %q appears twice", h)
			}
			idx[c] = i
		}
		if idx[colURL] < 0 {
			return nil, errors.New("the header has no url column")
		}
		return func(fields []string, ref string) ([]Record, error) {
			var cells [numColumns]string
			for c, i := range idx {
				if i >= 0 {
					cells[c] = fields[i]
				}
			}
			rec, err := decodeCells(&cells)
			if err != nil {
				return nil, &RowError{Ref: ref, Err: err}
			}
			rec.Ref = ref
			return []Record{rec}, nil
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	return newFileSource(string(CSV), rs, o.Resume)
}

// The index of each column in Columns.
const (
	colURL = iota
	colCode
	colDomain
	colTitle
	colTags
	colCreatedAt
	colExpiresAt
	colValidSince
	colMaxVisits
	colForwardQuery
	colDisabled
	colClicks
	numColumns
)

// column returns the index of name in Columns, or -1.
func column(name string) int {
	for i, c := range Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// decodeCells makes a record from the text of our columns, as the CSV
// format holds them; an absent column is "".
func decodeCells(c *[numColumns]string) (Record, error) {
	r := Record{
		URL:    strings.TrimSpace(c[colURL]),
		Code:   strings.TrimSpace(c[colCode]),
		Domain: strings.TrimSpace(c[colDomain]),
		Title:  c[colTitle],
		Tags:   cleanTags(splitTags(c[colTags])),
	}
	if r.URL == "" {
		return Record{}, errors.New("url is empty")
	}
	var err error
	if r.CreatedAt, err = parseTime(c[colCreatedAt], zonedLayouts); err != nil {
		return Record{}, fmt.Errorf("created_at: %w", err)
	}
	if r.ExpiresAt, err = parseTime(c[colExpiresAt], zonedLayouts); err != nil {
		return Record{}, fmt.Errorf("expires_at: %w", err)
	}
	if r.ValidSince, err = parseTime(c[colValidSince], zonedLayouts); err != nil {
		return Record{}, fmt.Errorf("valid_since: %w", err)
	}
	if r.MaxVisits, err = count(c[colMaxVisits]); err != nil {
		return Record{}, fmt.Errorf("max_visits: %w", err)
	}
	if r.Clicks, err = count(c[colClicks]); err != nil {
		return Record{}, fmt.Errorf("clicks: %w", err)
	}
	if s := strings.TrimSpace(c[colForwardQuery]); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return Record{}, fmt.Errorf("forward_query: %q is not true or false", s)
		}
		r.ForwardQuery = &b
	}
	if s := strings.TrimSpace(c[colDisabled]); s != "" {
		if r.Disabled, err = strconv.ParseBool(s); err != nil {
			return Record{}, fmt.Errorf("disabled: %q is not true or false", s)
		}
	}
	if err := checkText(&r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// count parses a non-negative integer; "" is 0.
func count(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a whole number of at least 0", s)
	}
	return n, nil
}

// splitTags splits the CSV tags cell: tags are separated by "|", and a
// tag's own "|" or "\" is escaped with a backslash. A backslash before any
// other character is kept as it is.
func splitTags(s string) []string {
	if s == "" {
		return nil
	}
	if !strings.Contains(s, `\`) {
		return strings.Split(s, "|")
	}
	var tags []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '|':
			tags = append(tags, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(tags, b.String())
}

// joinTags is the inverse of splitTags.
func joinTags(tags []string) string {
	var b strings.Builder
	for i, t := range tags {
		if i > 0 {
			b.WriteByte('|')
		}
		for j := 0; j < len(t); j++ {
			if t[j] == '|' || t[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(t[j])
		}
	}
	return b.String()
}

// checkWritable refuses a record that the readers would not read back the
// same.
func checkWritable(r Record) error {
	switch {
	case strings.TrimSpace(r.URL) == "":
		return errors.New("the record has no URL")
	case r.MaxVisits < 0 || r.Clicks < 0:
		return errors.New("max visits and clicks cannot be negative")
	}
	return checkText(&r)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// CSVWriter writes Shortlinks' CSV format. The header line goes out with
// the first record, or on Flush when there is none.
type CSVWriter struct {
	cw     *csv.Writer
	header bool
	row    []string
}

// NewCSVWriter returns a writer that writes to w through a buffer.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{cw: csv.NewWriter(w), row: make([]string, len(Columns))}
}

func (w *CSVWriter) writeHeader() error {
	if w.header {
		return nil
	}
	w.header = true
	return w.cw.Write(Columns)
}

// Write writes r as one row. It refuses a record without a URL, with
// negative counts, or with text that is not UTF-8.
func (w *CSVWriter) Write(r Record) error {
	if err := checkWritable(r); err != nil {
		return fmt.Errorf("write %s: %w", r.Ref, err)
	}
	if err := w.writeHeader(); err != nil {
		return err
	}
	fq := ""
	if r.ForwardQuery != nil {
		fq = strconv.FormatBool(*r.ForwardQuery)
	}
	maxVisits := ""
	if r.MaxVisits > 0 {
		maxVisits = strconv.FormatInt(r.MaxVisits, 10)
	}
	disabled := ""
	if r.Disabled {
		disabled = "true"
	}
	copy(w.row, []string{
		r.URL, r.Code, r.Domain, r.Title, joinTags(cleanTags(r.Tags)),
		formatTime(r.CreatedAt), formatTime(r.ExpiresAt), formatTime(r.ValidSince),
		maxVisits, fq, disabled, strconv.FormatInt(r.Clicks, 10),
	})
	return w.cw.Write(w.row)
}

// Flush writes out buffered rows (and the header, if nothing else was
// written) and reports any error from writing.
func (w *CSVWriter) Flush() error {
	if err := w.writeHeader(); err != nil {
		return err
	}
	w.cw.Flush()
	return w.cw.Error()
}

// jsonRecord is one line of the JSON Lines format.
type jsonRecord struct {
	URL          string   `json:"url"`
	Code         string   `json:"code,omitempty"`
	Domain       string   `json:"domain,omitempty"`
	Title        string   `json:"title,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	CreatedAt    string   `json:"created_at,omitempty"`
	ExpiresAt    string   `json:"expires_at,omitempty"`
	ValidSince   string   `json:"valid_since,omitempty"`
	MaxVisits    int64    `json:"max_visits,omitempty"`
	ForwardQuery *bool    `json:"forward_query,omitempty"`
	Disabled     bool     `json:"disabled,omitempty"`
	Clicks       int64    `json:"clicks"`
}

// OpenJSONL reads Shortlinks' JSON Lines format: one JSON object a line with
// the same fields as the CSV columns, tags as an array of strings. Blank
// lines are skipped; unknown fields make the line a row error.
func OpenJSONL(r io.Reader, o FileOptions) (Source, error) {
	rs := newJSONLRows(r, func(line []byte, ref string) ([]Record, error) {
		var j jsonRecord
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return nil, rowErr(ref, "%v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, rowErr(ref, "more than one JSON value on the line")
		}
		cells := [numColumns]string{
			colURL: j.URL, colCode: j.Code, colDomain: j.Domain, colTitle: j.Title,
			colCreatedAt: j.CreatedAt, colExpiresAt: j.ExpiresAt, colValidSince: j.ValidSince,
		}
		rec, err := decodeCells(&cells)
		if err != nil {
			return nil, &RowError{Ref: ref, Err: err}
		}
		if j.MaxVisits < 0 || j.Clicks < 0 {
			return nil, rowErr(ref, "max_visits and clicks cannot be negative")
		}
		rec.Tags = cleanTags(j.Tags)
		rec.MaxVisits, rec.Clicks = j.MaxVisits, j.Clicks
		rec.ForwardQuery, rec.Disabled = j.ForwardQuery, j.Disabled
		rec.Ref = ref
		return []Record{rec}, nil
	})
	return newFileSource(string(JSONL), rs, o.Resume)
}

// JSONLWriter writes Shortlinks' JSON Lines format.
type JSONLWriter struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

// NewJSONLWriter returns a writer that writes to w through a buffer.
func NewJSONLWriter(w io.Writer) *JSONLWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONLWriter{bw: bw, enc: enc}
}

// Write writes r as one line, refusing what CSVWriter.Write refuses.
func (w *JSONLWriter) Write(r Record) error {
	if err := checkWritable(r); err != nil {
		return fmt.Errorf("write %s: %w", r.Ref, err)
	}
	return w.enc.Encode(jsonRecord{
		URL: r.URL, Code: r.Code, Domain: r.Domain, Title: r.Title, Tags: cleanTags(r.Tags),
		CreatedAt: formatTime(r.CreatedAt), ExpiresAt: formatTime(r.ExpiresAt), ValidSince: formatTime(r.ValidSince),
		MaxVisits: r.MaxVisits, ForwardQuery: r.ForwardQuery, Disabled: r.Disabled, Clicks: r.Clicks,
	})
}

// Flush writes out buffered lines.
func (w *JSONLWriter) Flush() error { return w.bw.Flush() }
