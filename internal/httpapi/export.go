package httpapi

import (
	"context"
	"net/http"

	"github.com/shortlinks/shortlinks/internal/exporter"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

var errAdminOnly = &link.Error{Kind: link.Forbidden, Code: "admin_required",
	Message: "Only an admin key can export every link."}

// exportTypes are the media types of the export formats.
var exportTypes = map[transfer.Format]string{
	transfer.CSV:   "text/csv; charset=utf-8",
	transfer.JSONL: "application/x-ndjson",
}

// Export serves GET /api/v1/export?format=csv|jsonl: every live link, for
// an admin key, streamed a page at a time. A failure once the body has
// started cannot change the status; the body then ends early, and the
// failure is logged.
func (s *Server) Export(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireKeyFor(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if !who.Admin {
		s.errs.Fail(w, r, errAdminOnly)
		return
	}
	format := transfer.Format(r.URL.Query().Get("format"))
	if format == "" {
		format = transfer.CSV
	}
	ctype, ok := exportTypes[format]
	if !ok {
		s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "invalid_format", Field: "format",
			Message: "format must be csv or jsonl."})
		return
	}
	// The first page is read before the answer starts, so that storage
	// that cannot be read is answered with its own status.
	first, err := s.links.Search(r.Context(), who, exporter.Query(nil))
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	out, err := transfer.NewWriter(w, format)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="shortlinks.`+string(format)+`"`)
	w.Header().Set("Cache-Control", "no-store")
	pages := func(ctx context.Context, after *link.Cursor) (link.Page, error) {
		if after == nil {
			return first, nil
		}
		return s.links.Search(ctx, who, exporter.Query(after))
	}
	var hosts exporter.Hosts
	if s.domains != nil {
		hosts = s.domains.Host
	}
	if n, err := exporter.Write(r.Context(), pages, hosts, out); err != nil {
		s.log.Error("export ended early", "links", n, "error", err)
	}
}
