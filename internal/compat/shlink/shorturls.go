package shlink

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// maxBodyBytes is the largest request body read, as the JSON API's.
const maxBodyBytes = 64 << 10

// createRequest is the body of POST /rest/v3/short-urls. Pointers tell a
// field sent as null, or not at all, from one sent with a value.
type createRequest struct {
	LongURL         string          `json:"longUrl"`
	CustomSlug      string          `json:"customSlug"`
	PathPrefix      string          `json:"pathPrefix"`
	ValidSince      *string         `json:"validSince"`
	ValidUntil      *string         `json:"validUntil"`
	MaxVisits       *float64        `json:"maxVisits"`
	Tags            []string        `json:"tags"`
	Title           *string         `json:"title"`
	Crawlable       *bool           `json:"crawlable"`
	ForwardQuery    *bool           `json:"forwardQuery"`
	FindIfExists    bool            `json:"findIfExists"`
	Domain          string          `json:"domain"`
	ShortCodeLength json.RawMessage `json:"shortCodeLength"` // ignored: codes here have one length
}

// decodeBody reads the JSON object in r's body into v. Like Shlink, it
// does not insist on a Content-Type and ignores members it does not know.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Problem{Type: typeURI(codeMalformedBody), Title: "Malformed request body", Status: http.StatusRequestEntityTooLarge,
				Detail: "The request body is larger than " + strconv.Itoa(maxBodyBytes>>10) + " KiB."}
		}
		return &Problem{Type: typeURI(codeMalformedBody), Title: "Malformed request body", Status: http.StatusBadRequest,
			Detail: "The request body could not be read."}
	}
	err = json.Unmarshal(body, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return invalidData(typeErr.Field+" has the wrong type.", typeErr.Field)
	case err != nil:
		return &Problem{Type: typeURI(codeMalformedBody), Title: "Malformed request body", Status: http.StatusBadRequest,
			Detail: "Provided request does not contain a valid JSON body."}
	}
	return nil
}

// parseTime reads an ISO 8601 time as Shlink's clients send them: with
// or without fractions of a second, an offset with or without a colon,
// or a date alone (midnight UTC).
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.999999999-0700", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// unsupported refuses a field that Shortlinks cannot honour, rather than
// dropping it: a client that sets a limit must not believe it is set.
func unsupported(field string) *Problem {
	return invalidData("Shortlinks does not support "+field+" yet.", field)
}

// ownDomain reports whether domain names this server's default domain:
// empty, Shlink's DEFAULT keyword, or the base URL's host.
func (a *API) ownDomain(domain string) bool {
	return domain == "" || domain == "DEFAULT" || strings.EqualFold(domain, a.host)
}

// domainID returns the id of the short domain that Shlink's domain names,
// and false for a domain that is not here.
func (a *API) domainID(domain string) (int64, bool) {
	if a.ownDomain(domain) {
		return link.DefaultDomain, true
	}
	if a.domains == nil {
		return 0, false
	}
	d, err := a.domains.Named(domain)
	return d.ID, err == nil
}

// params turns a create request into service parameters, refusing what
// cannot be carried over.
func (a *API) params(req createRequest, who link.Principal) (link.CreateParams, error) {
	p := link.CreateParams{URL: req.LongURL, Alias: link.Code(req.PathPrefix + req.CustomSlug), Owner: who}
	if req.LongURL == "" {
		return p, invalidData("longUrl is required.", "longUrl")
	}
	if !a.ownDomain(req.Domain) {
		if _, ok := a.domainID(req.Domain); !ok {
			return p, invalidData("No short domain "+req.Domain+" is served here.", "domain")
		}
		p.Domain = req.Domain
	}
	if req.PathPrefix != "" && req.CustomSlug == "" {
		return p, unsupported("pathPrefix")
	}
	if req.ValidUntil != nil && *req.ValidUntil != "" {
		t, ok := parseTime(*req.ValidUntil)
		if !ok {
			return p, invalidData("validUntil must be an ISO 8601 date.", "validUntil")
		}
		p.ExpiresAt = t
	}
	// Shlink forwards the query string unless told not to.
	opts := link.Patch{ForwardQuery: link.To(req.ForwardQuery == nil || *req.ForwardQuery)}
	if req.ValidSince != nil && *req.ValidSince != "" {
		t, ok := parseTime(*req.ValidSince)
		if !ok {
			return p, invalidData("validSince must be an ISO 8601 date.", "validSince")
		}
		opts.ValidFrom = link.To(t)
	}
	if req.MaxVisits != nil {
		if *req.MaxVisits != float64(int64(*req.MaxVisits)) {
			return p, invalidData("maxVisits must be a whole number.", "maxVisits")
		}
		opts.MaxVisits = link.To(int64(*req.MaxVisits))
	}
	if len(req.Tags) > 0 {
		opts.Tags = link.To(req.Tags)
	}
	if req.Title != nil && *req.Title != "" {
		opts.Title = link.To(*req.Title)
	}
	p.Options = &opts
	return p, nil
}

// CreateShortURL serves POST /rest/v3/short-urls.
func (a *API) CreateShortURL(w http.ResponseWriter, r *http.Request) {
	who, err := a.creator(r, false)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	var req createRequest
	if err := decodeBody(w, r, &req); err != nil {
		a.failNaming(w, r, err, createFields)
		return
	}
	a.create(w, r, who, req)
}

// Shorten serves GET /rest/v3/short-urls/shorten?apiKey=&longUrl=, the
// shortcut for scripts and bookmarklets; format=txt answers with the short
// URL alone.
func (a *API) Shorten(w http.ResponseWriter, r *http.Request) {
	who, err := a.creator(r, true)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := a.createLink(r, who, createRequest{LongURL: q.Get("longUrl")})
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	if q.Get("format") == "txt" || (q.Get("format") == "" && strings.HasPrefix(r.Header.Get("Accept"), "text/plain")) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, a.shortURL(l.Code))
		return
	}
	writeJSON(w, http.StatusOK, a.wire(l))
}

func (a *API) create(w http.ResponseWriter, r *http.Request, who link.Principal, req createRequest) {
	l, err := a.createLink(r, who, req)
	if err != nil {
		a.failNaming(w, r.WithContext(context.WithValue(r.Context(), slugKey{}, req.PathPrefix+req.CustomSlug)), err, createFields)
		return
	}
	// Shlink answers a create with 200, and so with the link it found.
	writeJSON(w, http.StatusOK, a.wire(l))
}

// createLink makes the link req asks for, or with findIfExists returns a
// link of who's that already matches it.
func (a *API) createLink(r *http.Request, who link.Principal, req createRequest) (link.Link, error) {
	p, err := a.params(req, who)
	if err != nil {
		return link.Link{}, err
	}
	if req.FindIfExists {
		if l, ok, err := a.findExisting(r.Context(), who, p); err != nil || ok {
			return l, err
		}
	}
	return a.links.Create(r.Context(), p)
}

// findExisting returns the newest of who's live links to the same
// destination as p, with p's alias and expiry when p has them.
func (a *API) findExisting(ctx context.Context, who link.Principal, p link.CreateParams) (link.Link, bool, error) {
	want, err := link.NormalizeURL(p.URL, a.urls)
	if err != nil {
		return link.Link{}, false, nil // the create reports it
	}
	var found link.Link
	ok := false
	now := a.now()
	err = a.each(ctx, who, func(l link.Link) bool {
		match := l.URL == want && !l.Expired(now) &&
			(p.Alias == "" || l.Code == p.Alias) &&
			(p.ExpiresAt.IsZero() || l.ExpiresAt.Equal(p.ExpiresAt))
		if match {
			found, ok = l, true
		}
		return !match
	})
	return found, ok, err
}

// maxScan bounds how many links one request reads to filter, order and
// count a list in Shlink's terms, which pages by number rather than by
// cursor.
const maxScan = 100_000

// each calls fn with the links who may see, newest first, until fn
// returns false or maxScan links have been read.
func (a *API) each(ctx context.Context, who link.Principal, fn func(link.Link) bool) error {
	var after *link.Cursor
	for read := 0; read < maxScan; {
		pg, err := a.links.List(ctx, who, after, link.MaxPageSize)
		if err != nil {
			return err
		}
		for _, l := range pg.Links {
			if !fn(l) {
				return nil
			}
		}
		read += len(pg.Links)
		if pg.Next == nil {
			return nil
		}
		after = pg.Next
	}
	return nil
}

// intParam reads a whole-number query parameter, def when absent or not
// a number (Shlink falls back to its defaults too).
func intParam(q url.Values, name string, def int) int {
	n, err := strconv.Atoi(q.Get(name))
	if err != nil {
		return def
	}
	return n
}

// listParam reads a list parameter sent PHP's way (tags[]=a&tags[]=b) or
// plainly (tags=a&tags=b).
func listParam(q url.Values, name string) []string {
	return append(q[name+"[]"], q[name]...)
}

// ListShortURLs serves GET /rest/v3/short-urls: the caller's links (an
// admin's: everyone's), filtered, ordered and cut into numbered pages.
func (a *API) ListShortURLs(w http.ResponseWriter, r *http.Request) {
	who, err := a.principal(r, false)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	q := r.URL.Query()
	match, err := a.listFilter(q)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	var links []link.Link
	if err := a.each(r.Context(), who, func(l link.Link) bool {
		if match(l) {
			links = append(links, l)
		}
		return true
	}); err != nil {
		a.Fail(w, r, err)
		return
	}
	if err := orderLinks(links, q.Get("orderBy")); err != nil {
		a.Fail(w, r, err)
		return
	}
	all := make([]shortURL, len(links))
	for i, l := range links {
		all[i] = a.wire(l)
	}
	pg := paginate(all, intParam(q, "page", 1), intParam(q, "itemsPerPage", 10))
	a.countVisits(r.Context(), pg.Data)
	writeJSON(w, http.StatusOK, map[string]any{"shortUrls": pg})
}

// listFilter returns what selects the links a list query asks for.
func (a *API) listFilter(q url.Values) (func(link.Link) bool, error) {
	term := strings.ToLower(q.Get("searchTerm"))
	var from, until time.Time
	if s := q.Get("startDate"); s != "" {
		t, ok := parseTime(s)
		if !ok {
			return nil, invalidData("startDate must be an ISO 8601 date.", "startDate")
		}
		from = t
	}
	if s := q.Get("endDate"); s != "" {
		t, ok := parseTime(s)
		if !ok {
			return nil, invalidData("endDate must be an ISO 8601 date.", "endDate")
		}
		until = t
	}
	tags, allTags := listParam(q, "tags"), q.Get("tagsMode") == "all"
	skipExpired := q.Get("excludePastValidUntil") == "true"
	onDomain, known := link.DefaultDomain, true
	filterDomain := q.Get("domain") != ""
	if filterDomain {
		onDomain, known = a.domainID(q.Get("domain"))
	}
	now := a.now()
	return func(l link.Link) bool {
		switch {
		case !known, filterDomain && l.Domain != onDomain:
			return false
		case len(tags) > 0 && !hasTags(l.Tags, tags, allTags):
			return false
		case term != "" && !strings.Contains(strings.ToLower(l.URL), term) && !strings.Contains(strings.ToLower(string(l.Code)), term):
			return false
		case !from.IsZero() && l.CreatedAt.Before(from), !until.IsZero() && l.CreatedAt.After(until):
			return false
		case skipExpired && l.Expired(now):
			return false
		}
		return true
	}, nil
}

// orderLinks sorts links, which arrive newest first, as Shlink's orderBy
// says: FIELD-ASC or FIELD-DESC. Links have no visits or titles yet, so
// ordering by them keeps the order by date.
func orderLinks(links []link.Link, orderBy string) error {
	if orderBy == "" {
		return nil
	}
	field, dir, _ := strings.Cut(orderBy, "-")
	var by func(a, b link.Link) int
	switch field {
	case "longUrl":
		by = func(a, b link.Link) int { return strings.Compare(a.URL, b.URL) }
	case "shortCode":
		by = func(a, b link.Link) int { return strings.Compare(string(a.Code), string(b.Code)) }
	case "dateCreated", "title", "visits", "nonBotVisits":
		by = func(a, b link.Link) int { return a.CreatedAt.Compare(b.CreatedAt) }
	default:
		return invalidData("orderBy must be a field and a direction, like dateCreated-DESC.", "orderBy")
	}
	switch dir {
	case "ASC", "":
	case "DESC":
		asc := by
		by = func(a, b link.Link) int { return -asc(a, b) }
	default:
		return invalidData("orderBy must end in -ASC or -DESC.", "orderBy")
	}
	slices.SortStableFunc(links, func(a, b link.Link) int {
		return cmp.Or(by(a, b), strings.Compare(string(a.Code), string(b.Code)))
	})
	return nil
}

// shortURLOf is what a /short-urls/{shortCode} request names: who asks
// (by API key), the id of the domain (the default one without ?domain=;
// a domain that is not here has no links) and the code.
func (a *API) shortURLOf(r *http.Request) (link.Principal, int64, link.Code, error) {
	who, err := a.principal(r, false)
	if err != nil {
		return link.Principal{}, 0, "", err
	}
	c := r.PathValue("shortCode")
	d, ok := a.domainID(r.URL.Query().Get("domain"))
	if !ok {
		return link.Principal{}, 0, "", notFound(c)
	}
	return who, d, link.Code(c), nil
}

// GetShortURL serves GET /rest/v3/short-urls/{shortCode}.
func (a *API) GetShortURL(w http.ResponseWriter, r *http.Request) {
	who, d, c, err := a.shortURLOf(r)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	l, err := a.links.GetOn(r.Context(), d, c, who)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	u := []shortURL{a.wire(l)}
	a.countVisits(r.Context(), u)
	writeJSON(w, http.StatusOK, u[0])
}

// DeleteShortURL serves DELETE /rest/v3/short-urls/{shortCode}. The code
// stays reserved, as every deleted code here does.
func (a *API) DeleteShortURL(w http.ResponseWriter, r *http.Request) {
	who, d, c, err := a.shortURLOf(r)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	if err := a.links.DeleteOn(r.Context(), d, c, who); err != nil {
		a.Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hasTags reports whether have holds any of want, or all of them.
func hasTags(have, want []string, all bool) bool {
	for _, t := range want {
		if slices.Contains(have, t) != all {
			return !all
		}
	}
	return all
}
