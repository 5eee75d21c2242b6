package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/exporter"
	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// importSources are the kinds 'shortlinks import --from' reads.
var importSources = []string{"csv", "jsonl", "shlink", "shlink-csv", "yourls", "kutt", "bitly", "bitly-csv"}

// importFlags are the flags of 'shortlinks import'.
type importFlags struct {
	from, url, apiKey, token, dsn, prefix string
	groups                                []string
	bitlyClicks, dryRun, createDomains    bool
	batch                                 int
	report, state                         string
	output                                string
}

func importCmd(e env) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "import --from KIND [FILE]",
		Short: "Import links from another shortener or from an export",
		Long: `Import links straight into the configured database, from a file or from
another shortener: csv and jsonl (Shortlinks' own export formats),
shlink (its REST API: --url, --api-key), shlink-csv (its CSV export),
yourls (its MySQL/MariaDB database: --dsn, --table-prefix), kutt (its API:
--url, --api-key), bitly (API v4: --token, --group) and bitly-csv (its
CSV export). FILE is the file to read; "-" or none reads standard input.

Every record is held to the rules a create is held to. Codes are kept when
they are valid here and free; a code in use, an invalid code, a refused URL
or an unreadable row is reported and the import goes on. A code that
already holds the same URL is skipped, so running an import again carries
on. --state FILE saves the source's position after each stored batch and
resumes from it. --dry-run checks everything and stores nothing.`,
		Example: `  shortlinks import --from csv links.csv
  shortlinks import --from yourls --dsn 'yourls:secret@tcp(db:3306)/yourls' --report problems.csv
  shortlinks import --from shlink --url https://s.example.com --api-key KEY --state shlink.state
  shortlinks import --from bitly-csv bitly-export.csv --dry-run`,
		Args: cobra.MaximumNArgs(1),
	}
	config.AddFlags(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "what to read: "+strings.Join(importSources, ", ")+" (required)")
	fl.StringVar(&f.url, "url", "", "the server to read from (shlink, kutt; bitly: the API, default Bitly's)")
	fl.StringVar(&f.apiKey, "api-key", "", "the API key (shlink, kutt); also from SHORTLINKS_IMPORT_API_KEY")
	fl.StringVar(&f.token, "token", "", "the access token (bitly); also from SHORTLINKS_IMPORT_TOKEN")
	fl.StringSliceVar(&f.groups, "group", nil, "Bitly group GUIDs to read (default: every group the token sees)")
	fl.BoolVar(&f.bitlyClicks, "bitly-clicks", false, "ask Bitly for each link's click total (one request a link)")
	fl.StringVar(&f.dsn, "dsn", "", "the YOURLS database, as user:password@tcp(host:3306)/dbname; also from SHORTLINKS_IMPORT_DSN")
	fl.StringVar(&f.prefix, "table-prefix", "yourls_", "YOURLS_DB_PREFIX of the YOURLS install")
	fl.BoolVar(&f.dryRun, "dry-run", false, "check every record and report, but store nothing")
	fl.BoolVar(&f.createDomains, "create-domains", false, "add the short domains records name that are not here yet (default: such records are refused)")
	fl.IntVar(&f.batch, "batch", 5000, "records checked and stored together")
	fl.StringVar(&f.report, "report", "", "write every record's outcome to this CSV file (default: problems to standard error)")
	fl.StringVar(&f.state, "state", "", "resume from, and save progress to, this file")
	fl.StringVarP(&f.output, "output", "o", "text", "text or json (the summary)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := config.Load(cmd.Flags(), e.environ)
		if err != nil {
			return err
		}
		return runImport(cmd.Context(), e, cfg, f, args)
	}
	return cmd
}

func runImport(ctx context.Context, e env, cfg config.Config, f importFlags, args []string) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: use text or json", f.output)
	}
	resume, err := readState(f.state)
	if err != nil {
		return err
	}
	src, err := openSource(ctx, e, f, args, resume)
	if err != nil {
		return err
	}
	defer src.Close()

	db, err := app.OpenStorage(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Prepare(ctx); err != nil {
		return err
	}

	doms, err := db.Domains(ctx, nil)
	if err != nil {
		return err
	}
	// Destinations are held to the checks a create is held to.
	screen, unsafe, err := app.ImportChecks(cfg, slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	report, closeReport, err := outcomeReport(e, f.report)
	if err != nil {
		return err
	}
	start := time.Now()
	progress := newImportProgress(e.stderr)
	im, err := db.Importer(ctx, importer.Options{
		BatchSize: f.batch,
		DryRun:    f.dryRun,
		Report:    report,
		Screen:    screen,
		Unsafe:    unsafe,
		// The command is run by whoever runs the server: an admin.
		Domain: app.ImportDomains(doms, link.Principal{Admin: true, Scopes: link.AllScopes}, f.createDomains, f.dryRun),
		Progress: func(s importer.Summary, p transfer.Progress) {
			progress.update(s, p)
			if f.state != "" && !f.dryRun && s.Resume != "" {
				if err := os.WriteFile(f.state, []byte(s.Resume+"\n"), 0o600); err != nil {
					fmt.Fprintf(e.stderr, "--state: %v\n", err)
				}
			}
		},
	})
	if err != nil {
		return err
	}
	sum, runErr := im.Run(ctx, src)
	progress.finish()
	if err := closeReport(); err != nil && runErr == nil {
		runErr = err
	}
	if f.state != "" && !f.dryRun && sum.Resume != "" {
		if err := os.WriteFile(f.state, []byte(sum.Resume+"\n"), 0o600); err != nil && runErr == nil {
			runErr = fmt.Errorf("--state: %w", err)
		}
	}
	took := time.Since(start)
	if f.output == "json" {
		if err := printJSON(e.stdout, importResult{Summary: sum, DryRun: f.dryRun, Seconds: took.Seconds()}); err != nil {
			return err
		}
	} else {
		verb := "imported"
		if f.dryRun {
			verb = "would import"
		}
		fmt.Fprintf(e.stdout, "read %d, %s %d, skipped %d (already here), %d conflicts, %d invalid, in %s (%.0f records/s)\n",
			sum.Read, verb, sum.Imported, sum.Skipped, sum.Conflict, sum.Invalid, took.Round(time.Millisecond), float64(sum.Read)/max(took.Seconds(), 1e-9))
		if sum.Unchecked > 0 {
			fmt.Fprintf(e.stdout, "%d records were stored without a Safe Browsing answer (the lookup failed)\n", sum.Unchecked)
		}
	}
	if runErr != nil {
		if f.state != "" {
			return fmt.Errorf("%w (run the same command again to resume from %s)", runErr, f.state)
		}
		return runErr
	}
	return nil
}

// importResult is the JSON summary of 'shortlinks import -o json'.
type importResult struct {
	importer.Summary
	DryRun  bool    `json:"dry_run"`
	Seconds float64 `json:"seconds"`
}

// readState returns the resume token saved in path, or "" when there is
// none yet.
func readState(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("--state: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// openSource opens what --from names.
func openSource(ctx context.Context, e env, f importFlags, args []string, resume string) (transfer.Source, error) {
	secret := func(v, name string) string {
		if v != "" {
			return v
		}
		return e.get(name)
	}
	needs := func(what, v string) error {
		if v == "" {
			return fmt.Errorf("--from %s needs %s", f.from, what)
		}
		return nil
	}
	switch f.from {
	case "csv", "jsonl", "shlink-csv", "bitly-csv":
		r := io.Reader(os.Stdin)
		if len(args) == 1 && args[0] != "-" {
			fh, err := os.Open(args[0])
			if err != nil {
				return nil, err
			}
			// The source never closes its reader; the file lives as long
			// as the process.
			r = fh
		} else if resume != "" {
			return nil, errors.New("--state needs a FILE to resume in, not standard input")
		}
		return transfer.OpenFile(r, transfer.Format(f.from), transfer.FileOptions{Resume: resume})
	case "shlink":
		key := secret(f.apiKey, "SHORTLINKS_IMPORT_API_KEY")
		if err := errors.Join(needs("--url", f.url), needs("--api-key", key)); err != nil {
			return nil, err
		}
		return transfer.OpenShlink(ctx, transfer.ShlinkOptions{URL: f.url, APIKey: key, Resume: resume})
	case "kutt":
		key := secret(f.apiKey, "SHORTLINKS_IMPORT_API_KEY")
		if err := errors.Join(needs("--url", f.url), needs("--api-key", key)); err != nil {
			return nil, err
		}
		return transfer.OpenKutt(ctx, transfer.KuttOptions{URL: f.url, APIKey: key, Resume: resume})
	case "bitly":
		token := secret(f.token, "SHORTLINKS_IMPORT_TOKEN")
		if err := needs("--token", token); err != nil {
			return nil, err
		}
		return transfer.OpenBitly(ctx, transfer.BitlyOptions{URL: f.url, Token: token, Groups: f.groups, Clicks: f.bitlyClicks, Resume: resume})
	case "yourls":
		dsn := secret(f.dsn, "SHORTLINKS_IMPORT_DSN")
		if err := needs("--dsn", dsn); err != nil {
			return nil, err
		}
		return transfer.OpenYOURLS(ctx, transfer.YOURLSOptions{DSN: dsn, Prefix: f.prefix, Resume: resume})
	case "":
		return nil, fmt.Errorf("--from: say what to import from: %s", strings.Join(importSources, ", "))
	default:
		return nil, fmt.Errorf("--from %q: use one of %s", f.from, strings.Join(importSources, ", "))
	}
}

// outcomeReport returns where outcomes go: every one to a CSV file when
// path is set, otherwise the problems to standard error.
func outcomeReport(e env, path string) (func(importer.Outcome), func() error, error) {
	if path == "" {
		return func(o importer.Outcome) {
			if o.Result == importer.Conflict || o.Result == importer.Invalid {
				fmt.Fprintf(e.stderr, "%s: %s %s: %s\n", o.Ref, o.Result, o.Reason, o.Message)
			}
		}, func() error { return nil }, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--report: %w", err)
	}
	w := csv.NewWriter(fh)
	var werr error
	keep := func(err error) {
		if werr == nil {
			werr = err
		}
	}
	keep(w.Write([]string{"ref", "code", "url", "result", "reason", "message"}))
	report := func(o importer.Outcome) {
		keep(w.Write([]string{o.Ref, string(o.Code), o.URL, string(o.Result), o.Reason, o.Message}))
	}
	closer := func() error {
		w.Flush()
		keep(w.Error())
		keep(fh.Close())
		if werr != nil {
			return fmt.Errorf("--report: %w", werr)
		}
		return nil
	}
	return report, closer, nil
}

// importProgress prints how far an import has got, now and then.
type importProgress struct {
	w     io.Writer
	tty   bool
	start time.Time
	last  time.Time
	line  string
}

func newImportProgress(w io.Writer) *importProgress {
	p := &importProgress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *importProgress) update(s importer.Summary, src transfer.Progress) {
	period := 5 * time.Second
	if p.tty {
		period = 200 * time.Millisecond
	}
	now := time.Now()
	if now.Sub(p.last) < period {
		return
	}
	p.last = now
	of := ""
	if src.Total > 0 {
		of = fmt.Sprintf(" of %d (%.0f%%)", src.Total, 100*float64(src.Read)/float64(src.Total))
	}
	p.line = fmt.Sprintf("read %d%s: %d imported, %d skipped, %d conflicts, %d invalid, %.0f records/s",
		src.Read, of, s.Imported, s.Skipped, s.Conflict, s.Invalid, float64(s.Read)/max(now.Sub(p.start).Seconds(), 1e-9))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", p.line)
	} else {
		fmt.Fprintln(p.w, p.line)
	}
}

func (p *importProgress) finish() {
	if p.tty && p.line != "" {
		fmt.Fprintln(p.w)
	}
}

func exportCmd(e env) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export [--format csv|jsonl] [--out FILE]",
		Short: "Write every live link to a file that 'shortlinks import' reads back",
		Long: `Write every live link of the configured database, with its code, URL and
dates, in Shortlinks' CSV or JSON Lines format (docs/migrate.md), to
standard output or --out FILE. The export is also a backup people can
read: 'shortlinks import --from csv FILE' into an empty database gives the
same links back.`,
		Example: `  shortlinks export --format csv --out links.csv
  shortlinks export --format jsonl | gzip > links.jsonl.gz`,
		Args: cobra.NoArgs,
	}
	config.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if format != string(transfer.CSV) && format != string(transfer.JSONL) {
			return fmt.Errorf("--format %q: use csv or jsonl", format)
		}
		return withStorage(cmd, e, func(ctx context.Context, db *app.Storage) error {
			dst := e.stdout
			var fh *os.File
			if out != "" {
				var err error
				if fh, err = os.Create(out); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				defer fh.Close()
				dst = fh
			}
			w, err := transfer.NewWriter(dst, transfer.Format(format))
			if err != nil {
				return err
			}
			hosts, err := db.ExportHosts(ctx)
			if err != nil {
				return err
			}
			n, err := exporter.Write(ctx, db.ExportPages(), hosts, w)
			if err != nil {
				return err
			}
			if fh != nil {
				if err := fh.Close(); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				fmt.Fprintf(e.stderr, "exported %d links to %s\n", n, out)
			}
			return nil
		})
	}
	return cmd
}
