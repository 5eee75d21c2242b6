package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/importjob"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Imports runs imports in the background; *importjob.Jobs is one.
type Imports interface {
	Start(req importjob.Request) (importjob.Job, error)
	Get(id string) (importjob.Job, error)
}

// MaxImportUpload bounds a file sent to POST /api/v1/imports. Larger
// imports go through 'shortlinks import', which streams any size.
const MaxImportUpload = 256 << 20

// StartImportRequest is the JSON body of POST /api/v1/imports for an
// import from another shortener's API.
type StartImportRequest struct {
	From          string `json:"from"`
	URL           string `json:"url,omitempty"`
	APIKey        string `json:"api_key"`
	DryRun        bool   `json:"dry_run,omitempty"`
	CreateDomains bool   `json:"create_domains,omitempty"`
}

// ImportJobJSON is an import job as the API shows it.
type ImportJobJSON struct {
	ID         string          `json:"id"`
	From       string          `json:"from"`
	DryRun     bool            `json:"dry_run"`
	State      string          `json:"state"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Total      *int64          `json:"total"` // entries in the source; null when it does not say
	Summary    ImportSummary   `json:"summary"`
	Problems   []ImportProblem `json:"problems"`
	More       int64           `json:"more_problems"`
	Error      string          `json:"error,omitempty"`
}

// ImportSummary counts a job's records so far.
type ImportSummary struct {
	Read      int64 `json:"read"`
	Imported  int64 `json:"imported"`
	Skipped   int64 `json:"skipped"`
	Conflicts int64 `json:"conflicts"`
	Invalid   int64 `json:"invalid"`
	Unchecked int64 `json:"unchecked"`
}

// ImportProblem is a record that was not imported, and why.
type ImportProblem struct {
	Ref     string `json:"ref"`
	Code    string `json:"code"`
	URL     string `json:"url"`
	Result  string `json:"result"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func importJobJSON(j importjob.Job) ImportJobJSON {
	out := ImportJobJSON{ID: j.ID, From: j.Source, DryRun: j.DryRun, State: string(j.State), CreatedAt: j.Created,
		Summary: ImportSummary{Read: j.Summary.Read, Imported: j.Summary.Imported, Skipped: j.Summary.Skipped,
			Conflicts: j.Summary.Conflict, Invalid: j.Summary.Invalid, Unchecked: j.Summary.Unchecked},
		Problems: make([]ImportProblem, len(j.Problems)), More: j.MoreProblems, Error: j.Error}
	if !j.Started.IsZero() {
		out.StartedAt = &j.Started
	}
	if !j.Finished.IsZero() {
		out.FinishedAt = &j.Finished
	}
	if j.Total >= 0 {
		out.Total = &j.Total
	}
	for i, o := range j.Problems {
		out.Problems[i] = importProblem(o)
	}
	return out
}

func importProblem(o importer.Outcome) ImportProblem {
	return ImportProblem{Ref: o.Ref, Code: string(o.Code), URL: o.URL, Result: string(o.Result), Reason: o.Reason, Message: o.Message}
}

var errImportSource = &link.Error{Kind: link.Invalid, Code: "invalid_source", Field: "from",
	Message: "Send a file with ?from=csv or ?from=jsonl, or JSON naming a shlink, kutt or bitly server."}

// StartImport serves POST /api/v1/imports to admin keys: it queues an
// import and answers 202 with the job at once; the import runs in the
// background, and GET /api/v1/imports/{id} follows it. A file (Shortlinks'
// CSV or JSON Lines) is the body, with ?from=csv|jsonl; an import from
// another shortener's API is a JSON body naming it.
func (s *Server) StartImport(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireAdmin(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if s.imports == nil {
		s.errs.Fail(w, r, edge.ErrNoRoute)
		return
	}
	q := r.URL.Query()
	req := importjob.Request{By: who, DryRun: q.Get("dry_run") == "true", CreateDomains: q.Get("create_domains") == "true"}
	if from := q.Get("from"); from == "csv" || from == "jsonl" {
		req.Source = from
		if req.File, err = spool(w, r); err != nil {
			s.errs.Fail(w, r, err)
			return
		}
	} else {
		var body StartImportRequest
		if err := decodeJSON(w, r, &body); err != nil {
			s.errs.Fail(w, r, err)
			return
		}
		if body.From != "shlink" && body.From != "kutt" && body.From != "bitly" {
			s.errs.Fail(w, r, errImportSource)
			return
		}
		if body.APIKey == "" || (body.URL == "" && body.From != "bitly") {
			s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "invalid_source", Field: "url",
				Message: "An import from " + body.From + " needs its url and api_key (for Bitly, the access token; url may be left out)."})
			return
		}
		req.Source, req.URL, req.Key = body.From, body.URL, body.APIKey
		req.DryRun, req.CreateDomains = body.DryRun || req.DryRun, body.CreateDomains || req.CreateDomains
	}
	job, err := s.imports.Start(req)
	if err != nil {
		if req.File != "" {
			os.Remove(req.File)
		}
		s.errs.Fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/imports/"+job.ID)
	edge.WriteJSON(w, http.StatusAccepted, importJobJSON(job))
}

// GetImport serves GET /api/v1/imports/{id} to admin keys: the job's
// state, counts so far and the records it could not import.
func (s *Server) GetImport(w http.ResponseWriter, r *http.Request) {
	if _, err := s.requireAdmin(r); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if s.imports == nil {
		s.errs.Fail(w, r, edge.ErrNoRoute)
		return
	}
	job, err := s.imports.Get(r.PathValue("id"))
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	edge.WriteJSON(w, http.StatusOK, importJobJSON(job))
}

// spool copies the request's body, at most MaxImportUpload bytes, to a
// temporary file that the job reads and removes.
func spool(w http.ResponseWriter, r *http.Request) (string, error) {
	f, err := os.CreateTemp("", "shortlinks-import-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, http.MaxBytesReader(w, r.Body, MaxImportUpload))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", problem(http.StatusRequestEntityTooLarge, "body_too_large",
				"The file is larger than "+strconv.Itoa(MaxImportUpload>>20)+" MiB; import it with 'shortlinks import' instead.")
		}
		return "", err
	}
	return f.Name(), nil
}
