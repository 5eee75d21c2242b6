package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/importjob"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Imports runs the import page's imports in the background, with the rules
// a create is held to; *importjob.Jobs is one.
type Imports interface {
	Start(req importjob.Request) (importjob.Job, error)
	Get(id string) (importjob.Job, error)
}

// maxImportBytes bounds an uploaded file: about 50,000 links. Larger
// imports go through 'shortlinks import', which streams any size.
const maxImportBytes = 8 << 20

// importSources are the page's choices of where to import from.
var importSources = []option{
	{Value: "csv", Label: "A Shortlinks CSV file"},
	{Value: "jsonl", Label: "A Shortlinks JSON Lines file"},
	{Value: "shlink", Label: "A Shlink server (its REST API)"},
	{Value: "kutt", Label: "A Kutt server (its API v2)"},
	{Value: "bitly", Label: "Bitly (its API v4)"},
}

// importView is what the import page shows: the form, or a job.
type importView struct {
	Sources []option
	Job     *importjob.Job
	// Running is whether the job has not ended: the page then reloads
	// itself every few seconds.
	Running bool
}

// Percent is how far the job has read through a source that gave its
// size, or -1.
func (v importView) Percent() int64 {
	if v.Job == nil || v.Job.Total <= 0 {
		return -1
	}
	return min(100, v.Job.Summary.Read*100/v.Job.Total)
}

// ImportForm serves GET /admin/import to administrators: the form.
func (d *Dashboard) ImportForm(w http.ResponseWriter, r *http.Request) {
	u, ok := d.admin(w, r)
	if !ok {
		return
	}
	dd := d.data(r, u, "Import links", "import")
	dd.Form["source"] = "csv"
	dd.Import.Sources = choose(importSources, "csv")
	d.render(w, r, "import", http.StatusOK, dd)
}

// Import serves POST /admin/import: it takes the uploaded file, or the
// peer server named, and starts an import job, then sends the browser to
// the job's page. The import runs in the background, through the same
// importer as 'shortlinks import', never within this request.
func (d *Dashboard) Import(w http.ResponseWriter, r *http.Request) {
	u, ok := d.admin(w, r)
	if !ok {
		return
	}
	if d.imports == nil {
		d.p.errorPage(w, r, *edge.ErrNoRoute)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxImportBytes+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			d.p.errorPage(w, r, edge.Problem{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Message: "The file is larger than 8 MiB; import it with 'shortlinks import' instead."})
			return
		}
		d.p.errorPage(w, r, edge.Problem{Status: http.StatusBadRequest, Code: "malformed_form",
			Message: "The form could not be read; reload the page and try again."})
		return
	}
	defer r.MultipartForm.RemoveAll()
	source := r.PostFormValue("source")
	dd := d.data(r, u, "Import links", "import")
	for _, k := range []string{"source", "url"} {
		dd.Form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	dd.Import.Sources = choose(importSources, source)
	req := importjob.Request{Source: source, DryRun: r.PostFormValue("dry_run") != "", By: u.Principal(),
		CreateDomains: r.PostFormValue("create_domains") != ""}
	for k, on := range map[string]bool{"dry_run": req.DryRun, "create_domains": req.CreateDomains} {
		if on {
			dd.Form[k] = "on"
		}
	}
	refuse := func(input, msg string) {
		dd.Errors = append(dd.Errors, fieldError{Input: input, Message: msg})
		d.render(w, r, "import", http.StatusBadRequest, dd)
	}

	switch source {
	case "csv", "jsonl":
		f, _, err := r.FormFile("file")
		if err != nil {
			refuse("file", "Choose a file to import.")
			return
		}
		defer f.Close()
		if req.File, err = keep(f); err != nil {
			d.p.log.ErrorContext(r.Context(), "import upload could not be kept", "err", err)
			refuse("file", "The file could not be kept for the import; try again.")
			return
		}
	case "shlink", "kutt", "bitly":
		req.URL, req.Key = dd.Form["url"], strings.TrimSpace(r.PostFormValue("key"))
		if req.Key == "" {
			refuse("key", "Enter the API key (for Bitly, the access token) of the server to import from.")
			return
		}
		if req.URL == "" && source != "bitly" {
			refuse("url", "Enter the address of the server to import from, like https://s.example.com.")
			return
		}
	default:
		refuse("source", "Choose what to import from.")
		return
	}
	job, err := d.imports.Start(req)
	if err != nil {
		if req.File != "" {
			os.Remove(req.File)
		}
		msg := "The import could not start."
		var le *link.Error
		if errors.As(err, &le) {
			msg = le.Message
		}
		refuse(sourceInput(source), msg)
		return
	}
	http.Redirect(w, r, "/admin/import/"+job.ID, http.StatusSeeOther)
}

// ImportStatus serves GET /admin/import/{id}: the job's progress while it
// runs (the page reloads itself), then its summary, and every record it
// could not import with the reason.
func (d *Dashboard) ImportStatus(w http.ResponseWriter, r *http.Request) {
	u, ok := d.admin(w, r)
	if !ok {
		return
	}
	if d.imports == nil {
		d.p.errorPage(w, r, *edge.ErrNoRoute)
		return
	}
	job, err := d.imports.Get(r.PathValue("id"))
	if err != nil {
		var le *link.Error
		if errors.As(err, &le) {
			d.p.errorPage(w, r, edge.Problem{Status: http.StatusNotFound, Code: le.Code, Message: le.Message})
			return
		}
		d.p.errorPage(w, r, edge.Problem{Status: http.StatusInternalServerError, Code: "internal", Message: "Something went wrong."})
		return
	}
	dd := d.data(r, u, "Import "+string(job.State), "import")
	dd.Import.Job = &job
	dd.Import.Running = job.State == importjob.Queued || job.State == importjob.Running
	if dd.Import.Running {
		dd.Refresh = 2
	}
	switch job.State {
	case importjob.Failed:
		dd.Flash = flash{Message: fmt.Sprintf("The import stopped after %d records: %s Records already imported stay; running it again skips them.", job.Summary.Read, job.Error), Error: true}
	case importjob.Done:
		verb := "Imported"
		if job.DryRun {
			verb = "Dry run: would import"
		}
		s := job.Summary
		dd.Flash = flash{Message: fmt.Sprintf("%s %d of %d records; %d skipped, %d in conflict, %d invalid.",
			verb, s.Imported, s.Read, s.Skipped, s.Conflict, s.Invalid)}
	}
	d.render(w, r, "import", http.StatusOK, dd)
}

// keep copies an uploaded file to a file of its own, which the job reads
// and removes: the upload's is removed when this request ends.
func keep(f io.Reader) (string, error) {
	out, err := os.CreateTemp("", "shortlinks-import-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, f)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// sourceInput is the input a failure to start source points at.
func sourceInput(source string) string {
	if source == "csv" || source == "jsonl" {
		return "file"
	}
	return "url"
}

// choose marks the option whose value is v as selected.
func choose(opts []option, v string) []option {
	out := make([]option, len(opts))
	for i, o := range opts {
		o.Selected = o.Value == v
		out[i] = o
	}
	return out
}
