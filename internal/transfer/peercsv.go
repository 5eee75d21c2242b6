package transfer

import (
	"fmt"
	"io"
	"strings"
)

// peerColumns finds a peer's columns in header. want maps each field to
// the folded column names (see normHeader) that may hold it; the first
// column found for a field wins.
func peerColumns(header []string, want map[string][]string) map[string]int {
	folded := make([]string, len(header))
	for i, h := range header {
		folded[i] = normHeader(h)
	}
	idx := make(map[string]int)
	for field, names := range want {
	search:
		for _, n := range names {
			for i, f := range folded {
				if f == n {
					idx[field] = i
					break search
				}
			}
		}
	}
	return idx
}

// cellGetter returns a function that reads a field of a row by the index
// peerColumns found, "" when the column is absent or the row short.
func cellGetter(idx map[string]int, fields []string) func(string) string {
	return func(field string) string {
		if i, ok := idx[field]; ok && i < len(fields) {
			return strings.TrimSpace(fields[i])
		}
		return ""
	}
}

// splitList splits a peer's list cell: on "|" when it has one, else on
// ",", the two separators peers' exports use.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	if strings.Contains(s, "|") {
		return strings.Split(s, "|")
	}
	return strings.Split(s, ",")
}

// shlinkColumns are the columns of Shlink's CSV exports: the web client's
// "Export" (createdAt, domain, shortCode, shortUrl, longUrl, title, tags,
// visits) and the "Long URL, Short code, Domain, Title, Tags" file that
// Shlink's own CSV importer reads.
var shlinkColumns = map[string][]string{
	"url":     {"longurl"},
	"code":    {"shortcode"},
	"short":   {"shorturl"},
	"domain":  {"domain"},
	"title":   {"title"},
	"tags":    {"tags"},
	"created": {"createdat", "datecreated"},
	"visits":  {"visits", "visitscount"},
}

// OpenShlinkCSV reads a CSV file exported from Shlink. Column names are
// matched loosely ("Long URL", "longUrl"); longUrl is required. When there
// is no shortCode or domain column, they are taken from shortUrl. Other
// columns are ignored.
func OpenShlinkCSV(r io.Reader, o FileOptions) (Source, error) {
	rs, err := newCSVRows(r, false, func(header []string) (func([]string, string) ([]Record, error), error) {
		idx := peerColumns(header, shlinkColumns)
		if _, ok := idx["url"]; !ok {
			return nil, fmt.Errorf("no longUrl column among %q", header)
		}
		return func(fields []string, ref string) ([]Record, error) {
			get := cellGetter(idx, fields)
			rec := Record{
				Ref:    ref,
				URL:    get("url"),
				Code:   get("code"),
				Domain: strings.ToLower(get("domain")),
				Title:  get("title"),
				Tags:   cleanTags(splitList(get("tags"))),
			}
			if rec.URL == "" {
				return nil, rowErr(ref, "longUrl is empty")
			}
			if short := get("short"); short != "" {
				_, hasCode := idx["code"]
				_, hasDomain := idx["domain"]
				domain, code, err := splitShortURL(short)
				switch {
				case err != nil && (!hasCode || !hasDomain):
					return nil, rowErr(ref, "shortUrl: %v", err)
				case !hasCode:
					rec.Code = code
				}
				if !hasDomain {
					rec.Domain = domain
				}
			}
			var err error
			if rec.CreatedAt, err = anyTime(get("created")); err != nil {
				return nil, rowErr(ref, "createdAt: %v", err)
			}
			if rec.Clicks, err = count(get("visits")); err != nil {
				return nil, rowErr(ref, "visits: %v", err)
			}
			if err := checkText(&rec); err != nil {
				return nil, &RowError{Ref: ref, Err: err}
			}
			return []Record{rec}, nil
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("shlink csv: %w", err)
	}
	return newFileSource(string(ShlinkCSV), rs, o.Resume)
}

// bitlyColumns are the names Bitly's link exports have used for each field
// (the dashboard's "Export" has called them "Link", "Custom link",
// "Destination URL", "Title", "Date created", "Tags", "Engagements" or
// "Clicks"; the API's field names appear in scripted exports).
var bitlyColumns = map[string][]string{
	"url":     {"destinationurl", "longurl", "originalurl", "destination", "url"},
	"link":    {"link", "bitlink", "shortlink", "shorturl", "id"},
	"custom":  {"customlink", "custombitlink", "custombitlinks", "custombackhalf", "custombackhalves"},
	"title":   {"title"},
	"created": {"datecreated", "createdat", "created", "creationdate", "date"},
	"tags":    {"tags"},
	"clicks":  {"engagements", "clicks", "totalengagements", "totalclicks", "clicktotal"},
}

// OpenBitlyCSV reads a CSV file exported from Bitly. It needs a destination
// column and a link or custom link column; names are matched loosely. A row
// whose link also has custom back-halves yields one record for each short
// URL, all with the same destination; the clicks go on the first.
func OpenBitlyCSV(r io.Reader, o FileOptions) (Source, error) {
	rs, err := newCSVRows(r, false, func(header []string) (func([]string, string) ([]Record, error), error) {
		idx := peerColumns(header, bitlyColumns)
		_, hasURL := idx["url"]
		_, hasLink := idx["link"]
		_, hasCustom := idx["custom"]
		if !hasURL || !(hasLink || hasCustom) {
			return nil, fmt.Errorf("need a destination URL column and a link column, found %q", header)
		}
		return func(fields []string, ref string) ([]Record, error) {
			get := cellGetter(idx, fields)
			base := Record{
				URL:   get("url"),
				Title: get("title"),
				Tags:  cleanTags(splitList(get("tags"))),
			}
			if base.URL == "" {
				return nil, rowErr(ref, "the destination URL is empty")
			}
			var err error
			if base.CreatedAt, err = anyTime(get("created")); err != nil {
				return nil, rowErr(ref, "date created: %v", err)
			}
			clicks, err := count(strings.ReplaceAll(get("clicks"), ",", ""))
			if err != nil {
				return nil, rowErr(ref, "clicks: %v", err)
			}
			shorts := append([]string{get("link")}, strings.FieldsFunc(get("custom"), func(r rune) bool {
				return r == ',' || r == '|' || r == ' '
			})...)
			var recs []Record
			for _, s := range shorts {
				if s == "" {
					continue
				}
				domain, code, err := splitShortURL(s)
				if err != nil {
					return nil, &RowError{Ref: ref, Err: err}
				}
				if hasShort(recs, domain, code) {
					continue
				}
				rec := base
				rec.Ref, rec.Domain, rec.Code = ref+" ("+domain+"/"+code+")", domain, code
				if len(recs) == 0 {
					rec.Clicks = clicks
				}
				rec.Tags = append([]string(nil), base.Tags...)
				if len(rec.Tags) == 0 {
					rec.Tags = nil
				}
				if err := checkText(&rec); err != nil {
					return nil, &RowError{Ref: ref, Err: err}
				}
				recs = append(recs, rec)
			}
			if len(recs) == 0 {
				return nil, rowErr(ref, "the row has no short link")
			}
			return recs, nil
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("bitly csv: %w", err)
	}
	return newFileSource(string(BitlyCSV), rs, o.Resume)
}

func hasShort(recs []Record, domain, code string) bool {
	for _, r := range recs {
		if r.Domain == domain && r.Code == code {
			return true
		}
	}
	return false
}
