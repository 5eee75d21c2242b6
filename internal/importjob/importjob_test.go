package importjob_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/importjob"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// wait polls the job until it ends.
func wait(t *testing.T, j *importjob.Jobs, id string) importjob.Job {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		job, err := j.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if job.State == importjob.Done || job.State == importjob.Failed {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, job.State)
		}
	}
}

// TestJobs: a job reads its file through the import it is given, reports
// its problems and removes the file; a stopped server fails the running
// job and the queued ones; too many queued jobs are refused.
func TestJobs(t *testing.T) {
	file := func(body string) string {
		p := filepath.Join(t.TempDir(), "links.csv")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	release := make(chan struct{})
	run := func(ctx context.Context, src transfer.Source, opts importer.Options, by link.Principal, create bool) (importer.Summary, error) {
		var sum importer.Summary
		for {
			rec, err := src.Next(ctx)
			if err != nil {
				if opts.Progress != nil {
					opts.Progress(sum, src.Progress())
				}
				return sum, nil
			}
			sum.Read++
			if rec.Code == "block" {
				select {
				case <-release:
				case <-ctx.Done():
					return sum, ctx.Err()
				}
			}
			if rec.Code == "bad" {
				sum.Invalid++
				opts.Report(importer.Outcome{Ref: rec.Ref, Code: link.Code(rec.Code), Result: importer.Invalid, Reason: "url_blocked"})
				continue
			}
			sum.Imported++
			opts.Report(importer.Outcome{Ref: rec.Ref, Code: link.Code(rec.Code), Result: importer.Imported})
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	jobs := importjob.New(run, nil)
	done := make(chan error)
	go func() { done <- jobs.Run(ctx) }()

	f := file("url,code\nhttps://a.example/,good\nhttps://b.example/,bad\n")
	job, err := jobs.Start(importjob.Request{Source: "csv", File: f})
	if err != nil || job.State != importjob.Queued {
		t.Fatalf("start: %+v, %v", job, err)
	}
	job = wait(t, jobs, job.ID)
	if job.State != importjob.Done || job.Summary.Read != 2 || job.Summary.Imported != 1 || len(job.Problems) != 1 || job.Problems[0].Reason != "url_blocked" {
		t.Errorf("done job: %+v", job)
	}
	if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job's file is still there: %v", err)
	}
	if _, err := jobs.Start(importjob.Request{Source: "yourls"}); err == nil {
		t.Error("a source jobs do not run was queued")
	}
	if _, err := jobs.Get("nope"); !errors.Is(err, importjob.ErrNotFound) {
		t.Errorf("Get(nope) = %v", err)
	}

	// One job holds the runner; MaxQueued wait; one more is refused.
	blocked, err := jobs.Start(importjob.Request{Source: "csv", File: file("url,code\nhttps://a.example/,block\n")})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if j, _ := jobs.Get(blocked.ID); j.State == importjob.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the blocking job never ran")
		}
	}
	var queued []string
	for range importjob.MaxQueued {
		j, err := jobs.Start(importjob.Request{Source: "csv", File: file("url,code\n")})
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, j.ID)
	}
	if _, err := jobs.Start(importjob.Request{Source: "csv", File: file("url,code\n")}); !errors.Is(err, importjob.ErrBusy) {
		t.Errorf("a job past the queue: %v, want ErrBusy", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if j, _ := jobs.Get(blocked.ID); j.State != importjob.Failed || j.Error == "" {
		t.Errorf("the running job after the server stopped: %+v", j)
	}
	for _, id := range queued {
		if j, _ := jobs.Get(id); j.State != importjob.Failed {
			t.Errorf("a queued job after the server stopped: %+v", j)
		}
	}
}
