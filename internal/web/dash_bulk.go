package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// maxBulkBytes bounds a CSV upload: a thousand rows of a few hundred bytes
// each, with room to spare, as the API's bulk create.
const maxBulkBytes = 4 << 20

// bulkView is the outcome of an upload: one row per link asked for.
type bulkView struct {
	Rows    []bulkRow
	Created int
	Failed  int
}

// bulkRow is one row of the uploaded file and what became of it.
type bulkRow struct {
	Ref      string // "line 2"
	URL      string
	Created  bool
	Code     string
	ShortURL string
	Path     string // the link's page
	Status   int    // with an error: the status the API would answer
	Error    string // the error's code
	Message  string
}

// BulkForm serves the form that uploads a CSV file of links.
func (d *Dashboard) BulkForm(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	dd := d.data(r, u, "Create links from a file", "new")
	dd.DomainChoices = d.domainChoices(u, r.URL.Query().Get("domain"))
	d.render(w, r, "link_bulk", http.StatusOK, dd)
}

// BulkCreate creates the links of an uploaded CSV file (Shortlinks' own
// format, as the export writes it: a url column and any of code, domain,
// title, tags, expires_at, valid_since, max_visits, forward_query,
// disabled) for the signed-in user, on the domain the form chose unless a
// row names its own, through the same batch create as POST
// /api/v1/links/bulk, and shows a result for each row: the link made, or
// the error the API would give for it.
func (d *Dashboard) BulkCreate(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	dd := d.data(r, u, "Create links from a file", "new")
	refuse := func(status int, msg string) {
		dd.Errors = []fieldError{{Input: "file", Message: msg}}
		d.render(w, r, "link_bulk", status, dd)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBulkBytes)
	if err := r.ParseMultipartForm(maxBulkBytes); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than %d MB; split it.", maxBulkBytes>>20))
			return
		}
		refuse(http.StatusBadRequest, "The upload could not be read; choose the file again.")
		return
	}
	defer r.MultipartForm.RemoveAll()
	domain := r.FormValue("domain")
	dd.DomainChoices = d.domainChoices(u, domain)
	file, _, err := r.FormFile("file")
	if err != nil {
		refuse(http.StatusBadRequest, "Choose a CSV file to upload.")
		return
	}
	defer file.Close()
	src, err := transfer.OpenCSV(file, transfer.FileOptions{})
	if err != nil {
		refuse(http.StatusBadRequest, "The file is not a CSV file of links: "+strings.TrimPrefix(err.Error(), "csv: ")+".")
		return
	}
	defer src.Close()

	var view bulkView
	var params []link.CreateParams
	var index []int // params[j] is view.Rows[index[j]]
	for {
		rec, err := src.Next(r.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		if len(view.Rows) == link.MaxBatch {
			refuse(http.StatusBadRequest, fmt.Sprintf("The file has more than %d links; split it.", link.MaxBatch))
			return
		}
		var rowErr *transfer.RowError
		switch {
		case errors.As(err, &rowErr):
			view.Rows = append(view.Rows, bulkRow{Ref: rowErr.Ref, Status: http.StatusBadRequest, Error: "invalid_row", Message: rowErr.Err.Error() + "."})
			continue
		case err != nil:
			refuse(http.StatusBadRequest, "The file could not be read: "+err.Error()+".")
			return
		}
		row := bulkRow{Ref: rec.Ref, URL: rec.URL}
		view.Rows = append(view.Rows, row)
		p := createParams(rec, u.Principal())
		if p.Domain == "" {
			p.Domain = domain
		}
		params = append(params, p)
		index = append(index, len(view.Rows)-1)
	}
	if len(view.Rows) == 0 {
		refuse(http.StatusBadRequest, "The file holds no links: after the header line, put one link a row.")
		return
	}
	if len(params) > 0 {
		results, err := d.links.CreateBatch(r.Context(), params)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		for j, res := range results {
			row := &view.Rows[index[j]]
			if res.Err != nil {
				pr := edge.Describe(itemWriter{}, r, d.p.log, res.Err)
				row.Status, row.Error, row.Message = pr.Status, pr.Code, pr.Message
				continue
			}
			row.Created, row.Code, row.ShortURL, row.Path = true, string(res.Link.Code), d.shortURL(res.Link), d.linkPath(res.Link)
		}
	}
	for _, row := range view.Rows {
		if row.Created {
			view.Created++
		} else {
			view.Failed++
		}
	}
	dd.Bulk = &view
	dd.Title = "Links created from the file"
	d.render(w, r, "link_bulk", http.StatusOK, dd)
}

// createParams asks for the link rec describes, owned by who.
func createParams(rec transfer.Record, who link.Principal) link.CreateParams {
	opts := link.Patch{}
	if rec.Title != "" {
		opts.Title = link.To(rec.Title)
	}
	if len(rec.Tags) > 0 {
		opts.Tags = link.To(rec.Tags)
	}
	if !rec.ValidSince.IsZero() {
		opts.ValidFrom = link.To(rec.ValidSince)
	}
	if rec.MaxVisits != 0 {
		opts.MaxVisits = link.To(rec.MaxVisits)
	}
	if rec.ForwardQuery != nil {
		opts.ForwardQuery = link.To(*rec.ForwardQuery)
	}
	if rec.Disabled {
		opts.Disabled = link.To(true)
	}
	return link.CreateParams{URL: rec.URL, Alias: link.Code(rec.Code), ExpiresAt: rec.ExpiresAt, Owner: who, Options: &opts,
		Domain: rec.Domain}
}

// itemWriter takes the headers Describe sets for a whole response, which
// one row of an upload has no use for.
type itemWriter struct{}

func (itemWriter) Header() http.Header         { return http.Header{} }
func (itemWriter) Write(b []byte) (int, error) { return len(b), nil }
func (itemWriter) WriteHeader(int)             {}
