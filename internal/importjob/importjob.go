// Package importjob runs the imports that the dashboard and the API start
// as background jobs, away from the request that asked for them: the
// request gets a job id at once, and the job's progress, summary and
// per-record problems can be read while it runs and after it ends.
//
// Jobs are kept in memory only, the newest MaxKept of them. A restart
// loses them: a job that was running stops where it was (the batches it
// stored stay, and running the same import again skips them), and its
// status is gone.
package importjob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// Sources are the kinds of import a job runs.
var Sources = []string{"csv", "jsonl", "shlink", "kutt", "bitly"}

// State is where a job is.
type State string

// States of a job.
const (
	Queued  State = "queued"
	Running State = "running"
	Done    State = "done"   // the source was read to its end
	Failed  State = "failed" // stopped early: the source or the store failed, or the server stopped
)

// Limits of what jobs keep.
const (
	MaxKept     = 100  // jobs remembered, newest first; older finished ones are forgotten
	MaxProblems = 1000 // per-record problems a job keeps; the rest are counted
	MaxQueued   = 10   // jobs waiting to run
)

// Request is what to import.
type Request struct {
	Source string // one of Sources
	// File is a file the job reads (csv, jsonl) and removes when it ends;
	// the job owns it from Start on.
	File string
	// URL and Key are the peer's address and API key or token (shlink,
	// kutt, bitly; Bitly's URL may be empty). The key is used for this
	// job only and never shown.
	URL, Key string
	DryRun   bool
	// CreateDomains creates the short domains that records name and that
	// do not exist yet; without it such records are refused.
	CreateDomains bool
	// By is who started the job.
	By link.Principal
}

// Job is a snapshot of an import job.
type Job struct {
	ID       string
	Source   string
	DryRun   bool
	State    State
	Created  time.Time
	Started  time.Time // zero while queued
	Finished time.Time // zero until it ends
	Summary  importer.Summary
	// Total is how many entries the source holds, -1 when it does not say.
	Total int64
	// Problems are the records that were not imported or skipped
	// (conflicts and invalid ones), as they were settled, at most MaxProblems;
	// MoreProblems counts the rest.
	Problems     []importer.Outcome
	MoreProblems int64
	// Error says why a failed job stopped.
	Error string
}

// Run imports from src with opts; app supplies it, with the checks a
// create is held to.
type Run func(ctx context.Context, src transfer.Source, opts importer.Options, by link.Principal, createDomains bool) (importer.Summary, error)

// ErrBusy is returned by Start when MaxQueued jobs are waiting already.
var ErrBusy = &link.Error{Kind: link.Unavailable, Code: "imports_busy",
	Message: "Too many imports are waiting to run; try again when one has finished."}

// ErrNotFound is returned by Get for a job that is not known (never
// started here, forgotten, or lost in a restart).
var ErrNotFound = &link.Error{Kind: link.NotFound, Code: "import_not_found",
	Message: "No import has that id here; imports are forgotten when the server restarts."}

// Jobs queues imports and runs them one at a time.
type Jobs struct {
	run   Run
	log   *slog.Logger
	now   func() time.Time
	queue chan string

	mu   sync.Mutex
	jobs map[string]*entry
	ids  []string // newest last
}

type entry struct {
	job Job
	req Request
}

// New returns Jobs that import through run. Jobs run only while Run runs.
func New(run Run, log *slog.Logger) *Jobs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Jobs{run: run, log: log, now: time.Now, queue: make(chan string, MaxQueued), jobs: make(map[string]*entry)}
}

// Start queues req and returns its job. It fails with an *link.Error of
// Kind Invalid for a source it does not know, and with ErrBusy when too
// many jobs are waiting; req.File is then still the caller's.
func (j *Jobs) Start(req Request) (Job, error) {
	if !slices.Contains(Sources, req.Source) {
		return Job{}, &link.Error{Kind: link.Invalid, Code: "invalid_source", Field: "from",
			Message: "from must be one of csv, jsonl, shlink, kutt, bitly."}
	}
	id := newID()
	e := &entry{req: req, job: Job{ID: id, Source: req.Source, DryRun: req.DryRun, State: Queued, Created: j.now().UTC(), Total: -1}}
	j.mu.Lock()
	select {
	case j.queue <- id:
	default:
		j.mu.Unlock()
		return Job{}, ErrBusy
	}
	j.jobs[id] = e
	j.ids = append(j.ids, id)
	j.forget()
	job := e.job
	j.mu.Unlock()
	return job, nil
}

// forget drops the oldest finished jobs beyond MaxKept. j.mu is held.
func (j *Jobs) forget() {
	for i := 0; len(j.ids) > MaxKept && i < len(j.ids); {
		e := j.jobs[j.ids[i]]
		if e.job.State == Done || e.job.State == Failed {
			delete(j.jobs, j.ids[i])
			j.ids = slices.Delete(j.ids, i, i+1)
			continue
		}
		i++
	}
}

// Get returns the job with id, or ErrNotFound.
func (j *Jobs) Get(id string) (Job, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.jobs[id]
	if !ok {
		return Job{}, ErrNotFound
	}
	job := e.job
	job.Problems = slices.Clone(job.Problems)
	return job, nil
}

// Run runs queued jobs, one at a time, until ctx ends; it then returns nil.
// A job running then is stopped (its stored batches stay) and marked
// failed, and queued ones are marked failed without running.
func (j *Jobs) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			j.drain()
			return nil
		case id := <-j.queue:
			// Both cases may be ready at once, and select picks either:
			// a job taken after the stop does not start.
			if ctx.Err() != nil {
				j.notStarted(id)
				j.drain()
				return nil
			}
			j.runOne(ctx, id)
		}
	}
}

// drain fails the jobs still queued when the server stops.
func (j *Jobs) drain() {
	for {
		select {
		case id := <-j.queue:
			j.notStarted(id)
		default:
			return
		}
	}
}

// notStarted fails a queued job the server stopped before running.
func (j *Jobs) notStarted(id string) {
	j.update(id, func(e *entry) {
		e.job.State, e.job.Error, e.job.Finished = Failed, "The server stopped before the import started.", j.now().UTC()
		removeFile(e.req.File)
	})
}

func (j *Jobs) update(id string, f func(*entry)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e, ok := j.jobs[id]; ok {
		f(e)
	}
}

func (j *Jobs) runOne(ctx context.Context, id string) {
	j.mu.Lock()
	e := j.jobs[id]
	req := e.req
	e.req.Key = "" // not kept past its use
	e.job.State, e.job.Started = Running, j.now().UTC()
	j.mu.Unlock()
	defer removeFile(req.File)

	fail := func(err error) {
		j.update(id, func(e *entry) {
			e.job.State, e.job.Error, e.job.Finished = Failed, err.Error(), j.now().UTC()
		})
		j.log.Warn("import job stopped", "job", id, "source", req.Source, "err", err)
	}
	src, err := open(ctx, req)
	if err != nil {
		fail(fmt.Errorf("the import could not start: %w", err))
		return
	}
	defer src.Close()
	opts := importer.Options{
		DryRun: req.DryRun,
		Report: func(o importer.Outcome) {
			if o.Result == importer.Imported || o.Result == importer.Skipped {
				return
			}
			j.update(id, func(e *entry) {
				if len(e.job.Problems) < MaxProblems {
					e.job.Problems = append(e.job.Problems, o)
				} else {
					e.job.MoreProblems++
				}
			})
		},
		Progress: func(s importer.Summary, p transfer.Progress) {
			j.update(id, func(e *entry) { e.job.Summary, e.job.Total = s, p.Total })
		},
	}
	sum, err := j.run(ctx, src, opts, req.By, req.CreateDomains)
	j.update(id, func(e *entry) { e.job.Summary = sum })
	if err != nil {
		if ctx.Err() != nil {
			err = errors.New("the server stopped during the import; the batches stored stay, and running it again skips them")
		}
		fail(err)
		return
	}
	j.update(id, func(e *entry) { e.job.State, e.job.Finished = Done, j.now().UTC() })
	j.log.Info("import job done", "job", id, "source", req.Source, "read", sum.Read, "imported", sum.Imported,
		"skipped", sum.Skipped, "conflicts", sum.Conflict, "invalid", sum.Invalid, "dry_run", req.DryRun)
}

// open opens the source req names.
func open(ctx context.Context, req Request) (transfer.Source, error) {
	switch req.Source {
	case "csv", "jsonl":
		f, err := os.Open(req.File)
		if err != nil {
			return nil, err
		}
		src, err := transfer.OpenFile(f, transfer.Format(req.Source), transfer.FileOptions{})
		if err != nil {
			f.Close()
			return nil, err
		}
		return closing{src, f}, nil
	case "shlink":
		return transfer.OpenShlink(ctx, transfer.ShlinkOptions{URL: req.URL, APIKey: req.Key})
	case "kutt":
		return transfer.OpenKutt(ctx, transfer.KuttOptions{URL: req.URL, APIKey: req.Key})
	case "bitly":
		return transfer.OpenBitly(ctx, transfer.BitlyOptions{URL: req.URL, Token: req.Key})
	}
	return nil, fmt.Errorf("unknown source %q", req.Source)
}

// closing is a file source that closes its file too.
type closing struct {
	transfer.Source
	f *os.File
}

func (c closing) Close() error {
	err := c.Source.Close()
	if ferr := c.f.Close(); err == nil {
		err = ferr
	}
	return err
}

func removeFile(path string) {
	if path != "" {
		os.Remove(path)
	}
}

// newID returns a job id that cannot be guessed: the status shows the
// problems of records, URLs included.
func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
