package edge

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Problem is a failure as the client is shown it. Status, Header and the
// choice of JSON or a page are for HTTP; Code, Message and Field are the
// body: a stable snake_case code for programs, a sentence for people and
// the input at fault, if any. A handler returns a *Problem as its error
// for a failure that belongs to HTTP rather than to the link rules (an
// unsupported media type, a rate limit).
type Problem struct {
	Status  int         `json:"-"`
	Header  http.Header `json:"-"` // set on the answer: Retry-After, Allow, WWW-Authenticate
	Code    string      `json:"code"`
	Message string      `json:"message"`
	Field   string      `json:"field,omitempty"`
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error Problem `json:"error"`
}

// Failures of the HTTP layer itself. Their codes are part of the API.
var (
	// ErrInternal answers a failure the client can do nothing about; its
	// cause goes to the log and the error report, never to the client.
	ErrInternal = &Problem{Status: http.StatusInternalServerError, Code: "internal",
		Message: "Something went wrong on our side; try again, and report it if it persists."}
	// ErrNoRoute answers a path at which nothing is served.
	ErrNoRoute = &Problem{Status: http.StatusNotFound, Code: "not_found", Message: "There is nothing at this address."}
)

// statusFor maps each kind of link.Error to its HTTP status.
var statusFor = map[link.Kind]int{
	link.Invalid:         http.StatusBadRequest,
	link.NotFound:        http.StatusNotFound,
	link.Conflict:        http.StatusConflict,
	link.Gone:            http.StatusGone,
	link.Unauthenticated: http.StatusUnauthorized,
	link.Unavailable:     http.StatusServiceUnavailable,
	link.Forbidden:       http.StatusForbidden,
	link.TooManyRequests: http.StatusTooManyRequests,
}

// authChallenge is the WWW-Authenticate value of every 401.
const authChallenge = `Bearer realm="shortlinks"`

// Describe decides what the client is shown for err: a *Problem as it is,
// a *link.Error by the status of its kind, and anything else, which the
// client cannot act on, as "internal", logged to log. Storage that is
// unavailable is logged as a warning. Describe sets the headers the answer
// needs on w (Retry-After, WWW-Authenticate, Allow) and notes the cause of
// a 5xx there, for the edge's error report and trace; the caller writes
// the rest. Renderer.Fail does; a page that shows the problem its own way
// (the form, beside its inputs) calls Describe itself.
func Describe(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) Problem {
	p := describe(r, log, err)
	if p.Status >= 500 {
		noteError(w, err)
	}
	h := w.Header()
	for k, v := range p.Header {
		h[k] = v
	}
	return p
}

func describe(r *http.Request, log *slog.Logger, err error) Problem {
	var p *Problem
	if errors.As(err, &p) {
		return *p
	}
	var le *link.Error
	if errors.As(err, &le) {
		if status, ok := statusFor[le.Kind]; ok {
			p := Problem{Status: status, Code: le.Code, Message: le.Message, Field: le.Field}
			switch le.Kind {
			case link.Unavailable:
				log.WarnContext(r.Context(), "storage unavailable", "route", r.Pattern, "err", err)
				p.Header = http.Header{"Retry-After": {"1"}}
			case link.Unauthenticated:
				// Every 401 must carry a challenge (RFC 9110, section 11.6.1).
				p.Header = http.Header{"Www-Authenticate": {authChallenge}}
			}
			return p
		}
	}
	log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "err", err)
	return *ErrInternal
}

// Pages renders a problem as a page, for browsers; *web.Pages is one.
type Pages interface {
	ErrorPage(w http.ResponseWriter, r *http.Request, p Problem)
}

// Renderer is the one place an error becomes a whole answer: JSON for
// programs, a page for browsers.
type Renderer struct {
	log     *slog.Logger
	pages   Pages
	jsonFor string
}

// NewRenderer returns a Renderer that logs to log and shows browsers
// pages; pages nil answers everyone with JSON. Paths under jsonOnly (the
// API's prefix) answer JSON even to browsers.
func NewRenderer(log *slog.Logger, pages Pages, jsonOnly string) *Renderer {
	return &Renderer{log: log, pages: pages, jsonFor: jsonOnly}
}

// Fail answers r with err, as Describe says: a page when a browser asks
// for one, else the JSON error body.
func (rd *Renderer) Fail(w http.ResponseWriter, r *http.Request, err error) {
	r = WithRequestID(w, r)
	p := Describe(w, r, rd.log, err)
	if rd.pages != nil && wantsHTML(r) && !strings.HasPrefix(r.URL.Path, rd.jsonFor) {
		rd.pages.ErrorPage(w, r, p)
		return
	}
	WriteJSON(w, p.Status, ErrorBody{Error: p})
}

// wantsHTML reports whether the client is a browser asking for a page.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// WriteJSON answers with v as JSON and status, uncached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"The response could not be encoded."}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
