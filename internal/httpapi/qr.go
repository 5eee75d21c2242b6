package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// QR draws QR codes.
type QR interface {
	PNG(text string, size int) ([]byte, error)
	SVG(text string) ([]byte, error)
}

// QR image sizes in pixels for PNG.
const (
	DefaultQRSize = 256
	MinQRSize     = 64
	MaxQRSize     = 2048
)

// LinkQR draws the short URL of a live link. It needs no key: the image
// says no more than the short link itself.
func (s *Server) LinkQR(w http.ResponseWriter, r *http.Request) {
	if s.qr == nil {
		s.errs.Fail(w, r, edge.ErrNoRoute)
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "png"
	}
	size := DefaultQRSize
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < MinQRSize || n > MaxQRSize {
			s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "invalid_size", Field: "size",
				Message: "size must be a number of pixels from " + strconv.Itoa(MinQRSize) + " to " + strconv.Itoa(MaxQRSize) + "."})
			return
		}
		size = n
	}
	if format != "png" && format != "svg" {
		s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "invalid_format", Field: "format",
			Message: "format must be png or svg."})
		return
	}
	l, err := s.links.Resolve(r.Context(), link.Code(r.PathValue("code")))
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	var img []byte
	if format == "svg" {
		img, err = s.qr.SVG(s.shortURL(l.Code))
		w.Header().Set("Content-Type", "image/svg+xml")
		// An SVG opened on its own is a document that could run script;
		// ours holds none, and this makes sure no SVG from here ever does.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	} else {
		img, err = s.qr.PNG(s.shortURL(l.Code), size)
		w.Header().Set("Content-Type", "image/png")
	}
	if err != nil {
		w.Header().Del("Content-Type")
		s.errs.Fail(w, r, err)
		return
	}
	// The image never changes for a code, but caches should not keep
	// offering it once the link has expired.
	maxAge := 86400
	if !l.ExpiresAt.IsZero() {
		maxAge = min(maxAge, max(0, int(time.Until(l.ExpiresAt).Seconds())))
	}
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(img)
}
