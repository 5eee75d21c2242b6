package httpapi

import (
	"fmt"
	"net/http"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// MaxBulkBodyBytes is the largest body of a bulk create: a thousand links
// of a few hundred bytes each, with room to spare.
const MaxBulkBodyBytes = 4 << 20

// BulkRequest is the body of POST /api/v1/links/bulk.
type BulkRequest struct {
	Links []CreateRequest `json:"links"`
	// Domain is the short domain of the items that name none; empty: the
	// default domain.
	Domain string `json:"domain,omitempty"`
}

// BulkResult is the outcome of one item of a bulk create: Status 201 with
// the link, or the status and error the item would have had alone.
type BulkResult struct {
	Status int           `json:"status"`
	Link   *LinkJSON     `json:"link,omitempty"`
	Error  *edge.Problem `json:"error,omitempty"` // as in the API's error bodies
}

// BulkResponse answers a bulk create: one result per item, in order.
type BulkResponse struct {
	Results []BulkResult `json:"results"`
}

// BulkCreate serves POST /api/v1/links/bulk: up to link.MaxBatch links for
// the key sent, stored together where the engine allows. Items fail alone;
// the answer is 200 with a result for each, unless the request as a whole
// is refused.
func (s *Server) BulkCreate(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireKeyFor(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if !who.Can(link.ScopeLinksWrite) {
		s.errs.Fail(w, r, errNeedsWrite)
		return
	}
	var req BulkRequest
	if err := decodeJSONUpTo(w, r, &req, MaxBulkBodyBytes); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	switch {
	case len(req.Links) == 0:
		s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "no_links", Field: "links", Message: "Send the links to create in \"links\"."})
		return
	case len(req.Links) > link.MaxBatch:
		s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "too_many_links", Field: "links",
			Message: fmt.Sprintf("Send at most %d links at once; this request has %d.", link.MaxBatch, len(req.Links))})
		return
	}
	out := BulkResponse{Results: make([]BulkResult, len(req.Links))}
	params := make([]link.CreateParams, 0, len(req.Links))
	index := make([]int, 0, len(req.Links)) // params[j] is item index[j]
	for i, item := range req.Links {
		if item.Domain == "" {
			item.Domain = req.Domain
		}
		p, err := item.params(who)
		if err != nil {
			out.Results[i] = s.bulkError(r, err)
			continue
		}
		params = append(params, p)
		index = append(index, i)
	}
	results, err := s.links.CreateBatch(r.Context(), params)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	for j, res := range results {
		i := index[j]
		if res.Err != nil {
			out.Results[i] = s.bulkError(r, res.Err)
			continue
		}
		l := s.wire(res.Link)
		out.Results[i] = BulkResult{Status: http.StatusCreated, Link: &l}
	}
	edge.WriteJSON(w, http.StatusOK, out)
}

// bulkError describes err as the single create would have answered it,
// through the one mapping of errors to statuses.
func (s *Server) bulkError(r *http.Request, err error) BulkResult {
	p := edge.Describe(itemWriter{}, r, s.log, err)
	p.Header = nil
	return BulkResult{Status: p.Status, Error: &p}
}

// itemWriter takes the headers Describe sets for a whole response, which an
// item of a bulk answer has no use for.
type itemWriter struct{}

func (itemWriter) Header() http.Header         { return http.Header{} }
func (itemWriter) Write(b []byte) (int, error) { return len(b), nil }
func (itemWriter) WriteHeader(int)             {}
