package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
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
	// MaxQRSize is enough to print a code 8 cm wide at 300 dpi; drawing
	// costs CPU with the square of the size, and the image needs no key.
	MaxQRSize = 1024
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
	d, err := s.domainParam(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	l, err := s.links.ResolveOn(r.Context(), d, link.Code(r.PathValue("code")))
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	short := s.shortURLOn(l)
	// The image depends only on what it encodes and how it is drawn, so
	// its tag is known before drawing: a client or cache that has it
	// costs no drawing at all.
	etag := qrETag(format, size, short)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(qrMaxAge(l.ExpiresAt)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if matchesETag(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var img []byte
	if format == "svg" {
		img, err = s.qr.SVG(short)
		w.Header().Set("Content-Type", "image/svg+xml")
		// An SVG opened on its own is a document that could run script;
		// ours holds none, and this makes sure no SVG from here ever does.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	} else {
		img, err = s.qr.PNG(short, size)
		w.Header().Set("Content-Type", "image/png")
	}
	if err != nil {
		for _, h := range []string{"Content-Type", "ETag", "Cache-Control"} {
			w.Header().Del(h)
		}
		s.errs.Fail(w, r, err)
		return
	}
	w.Write(img)
}

// qrVersion changes when the way images are drawn does, so that cached
// images drawn the old way are not taken for new ones.
const qrVersion = "1"

// qrETag is the entity tag of the image of text in format at size.
func qrETag(format string, size int, text string) string {
	if format == "svg" {
		size = 0 // an SVG has no size
	}
	sum := sha256.Sum256([]byte(qrVersion + "\x00" + format + "\x00" + strconv.Itoa(size) + "\x00" + text))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// qrMaxAge is how long caches may keep a link's image: a day, but not
// past the link's expiry.
func qrMaxAge(expires time.Time) int {
	maxAge := 86400
	if !expires.IsZero() {
		maxAge = min(maxAge, max(0, int(time.Until(expires).Seconds())))
	}
	return maxAge
}

// matchesETag reports whether an If-None-Match header names etag, by weak
// comparison (RFC 9110, 13.1.2), or is "*".
func matchesETag(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
