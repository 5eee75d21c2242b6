// Package transfer reads short links out of other shorteners (Shlink, YOURLS,
// Kutt, Bitly) and out of Shortlinks' own interchange formats (CSV and JSON
// Lines), and writes those formats for export.
//
// Every reader is a Source that yields one neutral Record at a time, in
// constant memory, so that an import of a billion links never holds more
// than a page of them. A row that cannot be read is reported as a *RowError
// that names it, and reading goes on with the next one: nothing is dropped
// without a word. Progress tells how far a source has got, out of how many
// when the source knows, and gives a token that a new source of the same
// kind accepts to carry on right after the last record returned, so an
// interrupted import resumes where it stopped.
//
// The package decides nothing about Shortlinks' own rules: whether a code is
// a valid alias, a URL acceptable or a domain served here is for the import
// that consumes the records. It imports nothing else from this module.
package transfer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A Record is one short link as a source describes it. Every field but URL
// may be empty when the source does not have it.
type Record struct {
	// Ref says where the record is in its source, for reports: "line 12"
	// in a file, the short URL or key at an API, the keyword in YOURLS.
	Ref string

	Code   string // the short code or back-half, without the domain
	Domain string // the short domain the code lives on; "" for the source's default domain
	URL    string // the destination

	Title string
	Tags  []string // trimmed, without empty or repeated tags; nil when none

	CreatedAt  time.Time // zero: unknown
	ValidSince time.Time // zero: valid from creation
	ExpiresAt  time.Time // zero: never expires
	MaxVisits  int64     // 0: unlimited

	// ForwardQuery says whether the query string of a visit is passed on
	// to the destination; nil when the source does not say.
	ForwardQuery *bool

	// Disabled is set when the link exists at the source but does not
	// redirect there (banned, deleted, switched off). Its code is still
	// worth keeping, so that it is never handed out for something else.
	Disabled bool

	Clicks int64 // visits counted so far by the source

	// Unsupported names features the link has at its source that a Record
	// cannot carry, such as "password" or "redirect rules", so that an
	// import can report, or refuse, what would be lost. Nil when none.
	Unsupported []string
}

// Source yields the records of one export, one at a time.
//
// Next returns the next record. At the end it returns io.EOF. A row that
// cannot be read comes back as a *RowError, and the following call goes on
// with the next row. Any other error is fatal: the source cannot go on, but
// Progress still gives a token to resume from the last record returned.
// Next stops early with ctx's error when ctx ends.
//
// Progress may be called at any time, and reports the state right after the
// last Next. Close releases what the source holds (a database connection); it
// never closes a reader passed in by the caller.
type Source interface {
	Next(ctx context.Context) (Record, error)
	Progress() Progress
	Close() error
}

// Progress is how far a Source has got.
type Progress struct {
	// Read counts the entries of the source (file rows, API items,
	// database rows) that Next has finished with, bad ones included, and
	// those before the point a resumed source started from. An entry
	// usually makes one record; a Bitly link with custom back-halves makes
	// one for each of its short URLs, and counts once.
	Read int64
	// Total is how many entries the source holds in all, or -1 when it
	// does not know (files, and peers that do not say).
	Total int64
	// Resume is an opaque token: a source of the same kind opened with it
	// starts right after the last record or row error returned. It is ""
	// until something has been returned.
	Resume string
}

// RowError reports a row, item or database row that could not be made into
// a Record. The source has moved past it.
type RowError struct {
	Ref string // where the row is, as Record.Ref
	Err error
}

func (e *RowError) Error() string { return e.Ref + ": " + e.Err.Error() }
func (e *RowError) Unwrap() error { return e.Err }

// rowErr makes a *RowError from a message.
func rowErr(ref, format string, args ...any) *RowError {
	return &RowError{Ref: ref, Err: fmt.Errorf(format, args...)}
}

// ErrUnauthorized matches (with errors.Is) an *APIError that means the
// peer refused the credentials: a wrong, expired or underprivileged key.
var ErrUnauthorized = errors.New("the credentials were refused")

// ErrResume is wrapped by the errors of a source opened with a Resume token
// it cannot use: one made by another kind of source, or for another file.
var ErrResume = errors.New("cannot resume from this token")

// A Writer writes records in one of the interchange formats. Write buffers;
// Flush writes out what is buffered and must be called at the end.
type Writer interface {
	Write(r Record) error
	Flush() error
}
