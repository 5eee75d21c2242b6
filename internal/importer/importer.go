// Package importer loads the records of a transfer.Source into Shortlinks:
// it holds each record to the rules a create is held to, keeps codes that
// are valid and free here, and says what became of every record.
//
// Nothing is dropped or overwritten without a word: a code in use, a code
// that is not a valid alias here, a URL the rules refuse and a row the
// source could not read each produce an Outcome naming the record. A code
// that already holds the same URL is taken to be an earlier run's work and
// skipped, so running an import again carries on where it stopped.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// Store is where an import writes: a bulk loader, and a way to tell which
// codes are in use.
type Store interface {
	link.BatchStore
	// Existing returns, for each of codes that has ever been used on the
	// domain (0: the default one), the URL of its live link, or "" when
	// the link was deleted.
	Existing(ctx context.Context, domain int64, codes []link.Code) (map[link.Code]string, error)
}

// Result is what became of one record.
type Result string

// Results, as reports print them.
const (
	Imported Result = "imported" // stored (or, in a dry run, would be)
	Skipped  Result = "skipped"  // the code already holds the same URL here
	Conflict Result = "conflict" // the code is in use here for something else
	Invalid  Result = "invalid"  // the record breaks a rule: bad code, refused URL, unreadable row
)

// Outcome is what became of one record, for reports.
type Outcome struct {
	Ref    string    // where the record is in its source
	Code   link.Code // the code it has, or would have, here; "" when none
	URL    string
	Result Result
	// Reason is a stable word for Conflict and Invalid (for example
	// "code_taken", "invalid_alias", "url_blocked") and Message a sentence
	// for people.
	Reason, Message string
}

// Summary counts the outcomes of a run.
type Summary struct {
	Read     int64 `json:"read"` // records and unreadable rows
	Imported int64 `json:"imported"`
	Skipped  int64 `json:"skipped"`
	Conflict int64 `json:"conflicts"`
	Invalid  int64 `json:"invalid"`
	// Unchecked counts the records stored without a Safe Browsing answer,
	// because the lookup failed.
	Unchecked int64 `json:"unchecked,omitempty"`
	// Resume is the source's token after the last batch that was stored:
	// a source opened with it carries on after it.
	Resume string `json:"resume,omitempty"`
}

// Options tune an import.
type Options struct {
	URLRules link.URLRules
	Reserved []string    // aliases that would shadow the server's own paths
	Screen   link.Screen // refuses blocked destinations; nil: none
	// Domain, when set, returns the id of the short domain a record names
	// by its host, or why the record cannot go there (an *link.Error, such
	// as unknown_domain), which refuses the record. Records without a
	// domain, and all records when Domain is nil, go on the default
	// domain.
	Domain func(ctx context.Context, host string) (int64, error)
	// Unsafe, when set, looks up the destinations of each batch before it
	// is stored (Safe Browsing) and returns why each flagged one is unsafe.
	// A flagged record is refused as url_unsafe; a failed lookup leaves
	// the batch unchecked (counted in Summary.Unchecked), as a create is
	// not refused when the lookup fails.
	Unsafe func(ctx context.Context, urls []string) (map[string]string, error)
	Owner  int64 // the API key the links belong to; 0: none
	// BatchSize is how many records are checked and stored together; 0
	// means 5000.
	BatchSize int
	// DryRun checks everything and stores nothing.
	DryRun bool
	// Now stamps records whose source gave no creation time; time.Now when
	// nil.
	Now func() time.Time
	// Report is called with each record's outcome, in source order, and
	// Progress after each batch with the summary so far and the source's
	// progress. Either may be nil.
	Report   func(Outcome)
	Progress func(Summary, transfer.Progress)
}

// Importer loads sources into a store.
type Importer struct {
	// inUse is whether the last batch found codes in use: the next one is
	// then looked up before it is stored.
	inUse bool
	// checkFirst looks every batch up before storing it, as imports did
	// before they stored optimistically; benchmarks use it as a baseline.
	checkFirst bool
	// domains remembers what Domain said of each host named.
	domains map[string]domainAnswer
	store   Store
	codes   link.BatchGenerator
	loader  *link.Loader
	urls    *link.Normalizer
	opts    Options
}

// New returns an Importer into store, whose generated codes (for records
// without one) come from codes.
func New(store Store, codes link.BatchGenerator, opts Options) *Importer {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Importer{domains: map[string]domainAnswer{}, store: store, codes: codes, loader: link.NewLoader(store, codes), urls: link.NewNormalizer(opts.URLRules), opts: opts}
}

// domainAnswer is what Options.Domain said of a host.
type domainAnswer struct {
	id  int64
	err error
}

// pending is a record that passed the checks, waiting for its batch.
type pending struct {
	out  Outcome
	link link.Link
}

// Run reads src to its end and imports what it can. It returns early only
// when src fails for good, the store cannot be reached or ctx ends; the
// summary then counts what was done, and its Resume token lets a new
// source carry on after the last stored batch.
func (im *Importer) Run(ctx context.Context, src transfer.Source) (Summary, error) {
	var sum Summary
	batch := make([]pending, 0, im.opts.BatchSize)
	for {
		rec, err := src.Next(ctx)
		end := errors.Is(err, io.EOF)
		var rowErr *transfer.RowError
		switch {
		case end:
		case errors.As(err, &rowErr):
			sum.Read++
			im.report(&sum, Outcome{Ref: rowErr.Ref, Result: Invalid, Reason: "unreadable", Message: rowErr.Err.Error()})
		case err != nil:
			return sum, fmt.Errorf("import: read: %w", err)
		default:
			sum.Read++
			if p, ok := im.check(ctx, &sum, rec); ok {
				batch = append(batch, p)
			}
		}
		if len(batch) == cap(batch) || (end && len(batch) > 0) {
			if err := im.flush(ctx, &sum, batch); err != nil {
				return sum, err
			}
			batch = batch[:0]
		}
		if len(batch) == 0 {
			// Everything read so far is settled, so the source's token is
			// a safe place to resume from.
			sum.Resume = src.Progress().Resume
		}
		if end {
			if im.opts.Progress != nil {
				im.opts.Progress(sum, src.Progress())
			}
			return sum, nil
		}
		if len(batch) == 0 && im.opts.Progress != nil && sum.Read%int64(im.opts.BatchSize) == 0 {
			im.opts.Progress(sum, src.Progress())
		}
	}
}

// check holds rec to the rules of a create and makes its link, or reports
// why it cannot be imported.
func (im *Importer) check(ctx context.Context, sum *Summary, rec transfer.Record) (pending, bool) {
	out := Outcome{Ref: rec.Ref, Code: link.Code(rec.Code), URL: rec.URL}
	refuse := func(err error) (pending, bool) {
		out.Result, out.Reason, out.Message = Invalid, "invalid", err.Error()
		var le *link.Error
		if errors.As(err, &le) {
			out.Reason, out.Message = le.Code, le.Message
		}
		im.report(sum, out)
		return pending{}, false
	}
	u, err := im.urls.Normalize(rec.URL)
	if err != nil {
		return refuse(err)
	}
	if im.opts.Screen != nil {
		if reason, blocked := im.opts.Screen.Blocked(u); blocked {
			out.Result, out.Reason, out.Message = Invalid, "url_blocked", "This URL cannot be shortened: "+reason+"."
			im.report(sum, out)
			return pending{}, false
		}
	}
	if out.Code != "" {
		if err := link.ValidateAlias(out.Code, im.opts.Reserved); err != nil {
			return refuse(err)
		}
	}
	out.URL = u
	created := rec.CreatedAt
	if created.IsZero() {
		created = im.opts.Now()
	}
	tags, err := link.NormalizeTags(rec.Tags)
	if err != nil {
		return refuse(err)
	}
	if err := link.CheckTitle(rec.Title); err != nil {
		return refuse(err)
	}
	if rec.MaxVisits < 0 {
		out.Result, out.Reason, out.Message = Invalid, "invalid_max_visits", "max_visits cannot be negative."
		im.report(sum, out)
		return pending{}, false
	}
	var domain int64
	if rec.Domain != "" && im.opts.Domain != nil {
		d, ok := im.domains[rec.Domain]
		if !ok {
			var err error
			if d.id, err = im.opts.Domain(ctx, rec.Domain); err != nil {
				d.err = err
			}
			im.domains[rec.Domain] = d
		}
		if d.err != nil {
			return refuse(d.err)
		}
		domain = d.id
	}
	l := link.Link{
		Domain:    domain,
		Code:      out.Code,
		URL:       u,
		CreatedAt: created.UTC().Truncate(time.Microsecond),
		Owner:     im.opts.Owner,
		Title:     rec.Title,
		Tags:      tags,
		MaxVisits: rec.MaxVisits,
	}
	if !rec.ExpiresAt.IsZero() {
		l.ExpiresAt = rec.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	if !rec.ValidSince.IsZero() {
		l.ValidFrom = rec.ValidSince.UTC().Truncate(time.Microsecond)
	}
	if rec.ForwardQuery != nil {
		l.ForwardQuery = *rec.ForwardQuery
	}
	if rec.Clicks > 0 {
		// The link's click count starts where its source left it; the
		// load stores it with the link, so a rerun, which skips the
		// link, never adds it twice.
		l.ImportedClicks = rec.Clicks
	}
	if rec.Disabled {
		// Kept, so that its code is never handed out for something else,
		// but it does not redirect, as at its source.
		l.DisabledAt = im.opts.Now().UTC().Truncate(time.Microsecond)
		l.DisabledReason = "disabled where it was imported from"
	}
	if len(rec.Unsupported) > 0 {
		out.Message = "Not carried over: " + strings.Join(rec.Unsupported, ", ") + "."
	}
	return pending{out: out, link: l}, true
}

// flush settles one batch: codes already in use are skipped or reported,
// codes given twice in the batch keep their first record, and the rest are
// stored together. While batches find no code in use, as on a fresh
// import, a batch is stored without looking its codes up first: the store
// refuses the whole batch if any is taken, and the batch is then looked up
// and stored again, as is one that a link created meanwhile fails.
func (im *Importer) flush(ctx context.Context, sum *Summary, batch []pending) error {
	if im.opts.Unsafe != nil {
		im.screen(ctx, sum, batch)
	}
	check := im.opts.DryRun || im.inUse || im.checkFirst
	for attempt := 1; ; attempt++ {
		load, kept, found, err := im.settle(ctx, batch, check)
		if err != nil {
			return err
		}
		if !im.opts.DryRun && len(load) > 0 {
			err = im.loader.Load(ctx, load)
		}
		if errors.Is(err, link.ErrCodeTaken) && attempt < 4 {
			check = true
			continue
		}
		if err != nil {
			return fmt.Errorf("import: store: %w", err)
		}
		im.inUse = found > 0
		for j, i := range kept {
			batch[i].out.Result = Imported
			batch[i].out.Code = load[j].Code
		}
		for _, p := range batch {
			im.report(sum, p.out)
		}
		return nil
	}
}

// settle decides the outcome of each record of batch whose code is
// repeated, or, with check, in use, and returns the links to load with
// their indexes in batch, and how many codes it found in use.
func (im *Importer) settle(ctx context.Context, batch []pending, check bool) (load []link.Link, kept []int, found int, err error) {
	var taken map[codeKey]string
	if check {
		codes := make(map[int64][]link.Code)
		for _, p := range batch {
			if p.link.Code != "" {
				codes[p.link.Domain] = append(codes[p.link.Domain], p.link.Code)
			}
		}
		if taken, err = im.existing(ctx, codes); err != nil {
			return nil, nil, 0, err
		}
	}
	seen := make(map[codeKey]bool, len(batch))
	load = make([]link.Link, 0, len(batch))
	kept = make([]int, 0, len(batch))
	for i := range batch {
		p := &batch[i]
		c := p.link.Code
		if p.out.Result != "" {
			continue // settled before the batch was stored
		}
		if c == "" {
			load, kept = append(load, p.link), append(kept, i)
			continue
		}
		k := codeKey{p.link.Domain, c}
		url, used := taken[k]
		switch {
		case used:
			p.out.taken(url, p.link.URL)
		case seen[k]:
			p.out.Result, p.out.Reason, p.out.Message = Conflict, "code_repeated", "An earlier record of this import has the same code."
		default:
			seen[k] = true
			load, kept = append(load, p.link), append(kept, i)
		}
	}
	return load, kept, len(taken), nil
}

// screen asks Unsafe about the batch's destinations and refuses the
// records it flags.
func (im *Importer) screen(ctx context.Context, sum *Summary, batch []pending) {
	urls := make([]string, 0, len(batch))
	for _, p := range batch {
		urls = append(urls, p.link.URL)
	}
	flagged, err := im.opts.Unsafe(ctx, urls)
	if err != nil {
		sum.Unchecked += int64(len(batch))
		return
	}
	for i := range batch {
		if why, bad := flagged[batch[i].link.URL]; bad {
			o := &batch[i].out
			o.Result, o.Reason, o.Message = Invalid, "url_unsafe", "This URL cannot be shortened: Safe Browsing lists it ("+why+")."
		}
	}
}

// codeKey is a code on a domain.
type codeKey struct {
	domain int64
	code   link.Code
}

// existing looks up the codes of each domain and returns the URL of each
// that has ever been used ("" for a deleted link).
func (im *Importer) existing(ctx context.Context, codes map[int64][]link.Code) (map[codeKey]string, error) {
	taken := make(map[codeKey]string)
	for d, cs := range codes {
		found, err := im.store.Existing(ctx, d, cs)
		if err != nil {
			return nil, fmt.Errorf("import: check codes: %w", err)
		}
		for c, url := range found {
			taken[codeKey{d, c}] = url
		}
	}
	return taken, nil
}

// taken settles an outcome whose code is in use here for url ("" for a
// deleted link): skipped when it is the record's own URL.
func (o *Outcome) taken(url, want string) {
	switch {
	case url == want:
		o.Result, o.Reason, o.Message = Skipped, "already_imported", "This code already holds the same URL here."
	case url == "":
		o.Result, o.Reason, o.Message = Conflict, "code_retired", "This code belonged to a link that was deleted here; codes are never reissued."
	default:
		o.Result, o.Reason, o.Message = Conflict, "code_taken", "This code is in use here for "+url+"."
	}
}

// report counts o and passes it on.
func (im *Importer) report(sum *Summary, o Outcome) {
	switch o.Result {
	case Imported:
		sum.Imported++
	case Skipped:
		sum.Skipped++
	case Conflict:
		sum.Conflict++
	case Invalid:
		sum.Invalid++
	}
	if im.opts.Report != nil {
		im.opts.Report(o)
	}
}
