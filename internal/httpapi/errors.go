package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// statusFor maps each kind of link.Error to its HTTP status.
var statusFor = map[link.Kind]int{
	link.Invalid:         http.StatusBadRequest,
	link.NotFound:        http.StatusNotFound,
	link.Conflict:        http.StatusConflict,
	link.Gone:            http.StatusGone,
	link.Unauthenticated: http.StatusUnauthorized,
	link.Unavailable:     http.StatusServiceUnavailable,
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Errors the HTTP layer itself raises. Their codes are part of the API.
var (
	errInternal      = &link.Error{Code: "internal", Message: "Something went wrong on our side; try again, and report it if it persists."}
	errRouteNotFound = &link.Error{Kind: link.NotFound, Code: "not_found", Message: "There is nothing at this address."}
)

// httpError is an error that carries its own status, for failures that
// belong to HTTP rather than to the link rules.
type httpError struct {
	status int
	body   apiError
	header http.Header
}

func (e *httpError) Error() string { return e.body.Code + ": " + e.body.Message }

func newHTTPError(status int, code, msg string) *httpError {
	return &httpError{status: status, body: apiError{Code: code, Message: msg}}
}

func errRateLimited(retry time.Duration) *httpError {
	secs := int(retry.Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	e := newHTTPError(http.StatusTooManyRequests, "rate_limited",
		"Too many requests from your address; retry in "+strconv.Itoa(secs)+" seconds.")
	e.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	return e
}

func errMethodNotAllowed(allow string) *httpError {
	e := newHTTPError(http.StatusMethodNotAllowed, "method_not_allowed", "This address does not accept that method; it accepts "+allow+".")
	e.header = http.Header{"Allow": {allow}}
	return e
}

// fail is the one place an error becomes a response. Errors the client can
// act on are shown; anything else is logged and shown as "internal".
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body, header := s.describe(r, err)
	if status >= 500 {
		noteError(w, err)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	if s.pages != nil && wantsHTML(r) && !isAPI(r) {
		s.pages.Error(w, r, status, body.Code, body.Message)
		return
	}
	writeJSON(w, status, errorBody{Error: body})
}

func (s *Server) describe(r *http.Request, err error) (int, apiError, http.Header) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.body, he.header
	}
	var le *link.Error
	if errors.As(err, &le) {
		if status, ok := statusFor[le.Kind]; ok {
			switch le.Kind {
			case link.Unavailable:
				s.log.WarnContext(r.Context(), "storage unavailable", "route", r.Pattern, "err", err)
				return status, apiError{Code: le.Code, Message: le.Message}, http.Header{"Retry-After": {"1"}}
			case link.Unauthenticated:
				// Every 401 must carry a challenge (RFC 9110, section 11.6.1).
				return status, apiError{Code: le.Code, Message: le.Message, Field: le.Field}, http.Header{"Www-Authenticate": {authChallenge}}
			}
			return status, apiError{Code: le.Code, Message: le.Message, Field: le.Field}, nil
		}
	}
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "err", err)
	return http.StatusInternalServerError, apiError{Code: errInternal.Code, Message: errInternal.Message}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
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
