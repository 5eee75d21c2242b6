package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// Imports runs an import for the import page, with the rules a create is
// held to; app builds it over the store. report is called with each
// record's outcome, in source order.
type Imports interface {
	Import(ctx context.Context, src transfer.Source, dryRun bool, report func(importer.Outcome)) (importer.Summary, error)
}

// maxImportBytes bounds an uploaded file: about 50,000 links. Larger
// imports go through 'shortlinks import', which streams any size.
const maxImportBytes = 8 << 20

// maxImportRows is how many outcomes the page lists; the summary counts
// them all.
const maxImportRows = 1000

// importSources are the page's choices of where to import from.
var importSources = []option{
	{Value: "csv", Label: "A Shortlinks CSV file"},
	{Value: "jsonl", Label: "A Shortlinks JSON Lines file"},
	{Value: "shlink", Label: "A Shlink server (its REST API)"},
	{Value: "kutt", Label: "A Kutt server (its API v2)"},
	{Value: "bitly", Label: "Bitly (its API v4)"},
}

// importView is what the import page shows after a run.
type importView struct {
	Sources []option
	Ran     bool
	DryRun  bool
	Summary importer.Summary
	Rows    []importer.Outcome
	More    int64 // outcomes beyond the rows listed
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

// Import serves POST /admin/import: reads the uploaded file, or the peer
// server named, through the same importer as 'shortlinks import', and
// shows what became of every record. With dry_run nothing is stored.
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
	dd.Import.DryRun = r.PostFormValue("dry_run") != ""
	if dd.Import.DryRun {
		dd.Form["dry_run"] = "on"
	}
	refuse := func(input, msg string) {
		dd.Errors = append(dd.Errors, fieldError{Input: input, Message: msg})
		d.render(w, r, "import", http.StatusBadRequest, dd)
	}

	var src transfer.Source
	var err error
	switch source {
	case "csv", "jsonl":
		f, _, ferr := r.FormFile("file")
		if ferr != nil {
			refuse("file", "Choose a file to import.")
			return
		}
		defer f.Close()
		src, err = transfer.OpenFile(f, transfer.Format(source), transfer.FileOptions{})
	case "shlink", "kutt", "bitly":
		peerURL, key := dd.Form["url"], strings.TrimSpace(r.PostFormValue("key"))
		if key == "" {
			refuse("key", "Enter the API key (for Bitly, the access token) of the server to import from.")
			return
		}
		if peerURL == "" && source != "bitly" {
			refuse("url", "Enter the address of the server to import from, like https://s.example.com.")
			return
		}
		switch source {
		case "shlink":
			src, err = transfer.OpenShlink(r.Context(), transfer.ShlinkOptions{URL: peerURL, APIKey: key})
		case "kutt":
			src, err = transfer.OpenKutt(r.Context(), transfer.KuttOptions{URL: peerURL, APIKey: key})
		default:
			src, err = transfer.OpenBitly(r.Context(), transfer.BitlyOptions{URL: peerURL, Token: key})
		}
	default:
		refuse("source", "Choose what to import from.")
		return
	}
	if err != nil {
		refuse(sourceInput(source), "The import could not start: "+err.Error())
		return
	}
	defer src.Close()

	report := func(o importer.Outcome) {
		if len(dd.Import.Rows) < maxImportRows {
			dd.Import.Rows = append(dd.Import.Rows, o)
		} else {
			dd.Import.More++
		}
	}
	sum, err := d.imports.Import(r.Context(), src, dd.Import.DryRun, report)
	dd.Import.Ran, dd.Import.Summary = true, sum
	if err != nil {
		d.p.log.WarnContext(r.Context(), "dashboard import stopped", "source", source, "err", err)
		dd.Flash = flash{Message: fmt.Sprintf("The import stopped after %d records: %s. Records already imported stay; running it again skips them.", sum.Read, err), Error: true}
	} else {
		verb := "Imported"
		if dd.Import.DryRun {
			verb = "Dry run: would import"
		}
		dd.Flash = flash{Message: fmt.Sprintf("%s %d of %d records; %d skipped, %d conflicts, %d invalid.",
			verb, sum.Imported, sum.Read, sum.Skipped, sum.Conflict, sum.Invalid)}
	}
	d.render(w, r, "import", http.StatusOK, dd)
}

// sourceInput is the input a failure to open source points at.
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
