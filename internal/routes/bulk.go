package routes

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/shortlinks/shortlinks/internal/edge"
)

// maxBulkBody bounds what limitBulk reads to count the items; the handler
// refuses a larger body itself.
const maxBulkBody = 4 << 20

// limitBulk rations bulk creation as limitCreates rations single creates,
// one token per link asked for: a bulk request is refused, with
// Retry-After, as soon as the client's budget runs out, and tokens spent
// before then stay spent. A body it cannot count costs one token and is
// left to the handler to refuse.
func (t *Table) limitBulk(next http.HandlerFunc) http.HandlerFunc {
	if t.limiter == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBulkBody+1))
		if err != nil {
			t.errs.Fail(w, r, &edge.Problem{Status: http.StatusBadRequest, Code: "malformed_json", Message: "The request body could not be read."})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var items struct {
			Links []json.RawMessage `json:"links"`
		}
		n := 1
		if json.Unmarshal(body, &items) == nil && len(items.Links) > 1 {
			n = len(items.Links)
		}
		if t.spendCreates(w, r, n) {
			next(w, r)
		}
	}
}

// spendCreates takes n tokens of the client's create budget; when it runs
// out it answers 429 with Retry-After and reports false.
func (t *Table) spendCreates(w http.ResponseWriter, r *http.Request, n int) bool {
	key := "create:" + t.clientIP(r).String()
	for range n {
		d, err := t.limiter.Allow(r.Context(), key)
		if err != nil {
			// A limiter that cannot decide must not stop people creating links.
			t.log.WarnContext(r.Context(), "rate limiter failed; allowing", "err", err)
			return true
		}
		if !d.Allowed {
			t.metrics.rateLimited.Inc()
			t.errs.Fail(w, r, errRateLimited(d.RetryAfter))
			return false
		}
	}
	return true
}

// limitUpload rations a CSV upload of links (the dashboard's bulk create)
// as limitBulk rations the API's: one token per line of the body, about
// one per link (the file's header line and the form's own few lines cost
// one each too). A body larger than the handler takes costs what was read.
func (t *Table) limitUpload(next http.HandlerFunc) http.HandlerFunc {
	if t.limiter == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBulkBody+1))
		if err != nil {
			t.errs.Fail(w, r, &edge.Problem{Status: http.StatusBadRequest, Code: "malformed_form", Message: "The upload could not be read."})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if t.spendCreates(w, r, max(1, bytes.Count(body, []byte("\n")))) {
			next(w, r)
		}
	}
}
