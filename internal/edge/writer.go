package edge

import (
	"errors"
	"net/http"
	"time"
)

// errReported stands for a cause already reported where it happened.
var errReported = errors.New("reported")

// statusWriter remembers the status a handler wrote, and the error behind
// a 5xx when Describe was told it.
type statusWriter struct {
	http.ResponseWriter
	status int
	err    error
	start  time.Time // when the edge took the request
}

// Started returns when the edge took the request that w answers, read once
// for its latency metric, so that handlers needing the time (click
// analytics) need not read the clock again; the zero time when w is not
// the edge's.
func Started(w http.ResponseWriter) time.Time {
	if sw, ok := w.(*statusWriter); ok {
		return sw.start
	}
	return time.Time{}
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// edgeWriter finds the edge's writer in w, which a middleware may have
// wrapped (with an Unwrap method, as http.ResponseController expects), or
// nil when w did not come through an Edge.
func edgeWriter(w http.ResponseWriter) *statusWriter {
	for {
		switch x := w.(type) {
		case *statusWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// Status is the status the handler has answered through w so far: the
// one it wrote, 200 once it wrote a body without one, or 0 before either,
// or when w did not come through an Edge. A middleware reads it after its
// handler returns, without a writer of its own.
func Status(w http.ResponseWriter) int {
	if sw := edgeWriter(w); sw != nil {
		return sw.status
	}
	return 0
}

// noteError records err as the cause of the answer w carries, for the
// error report and the trace of a 5xx.
func noteError(w http.ResponseWriter, err error) {
	if sw := edgeWriter(w); sw != nil {
		sw.err = err
	}
}
