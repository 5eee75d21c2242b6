package blocklist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Options.
const (
	DefaultInterval   = 5 * time.Second
	DefaultSettle     = time.Second
	DefaultMaxEntries = 5_000_000
	maxLists          = 64 // one bit each in a Matcher
	sampleSize        = 10
)

// Source names a list file.
type Source struct {
	Name   string // in messages, logs and metrics; the file name without its extension when empty
	Path   string
	Format Format // Auto when empty
}

// ParseSource reads a list given as PATH, FORMAT:PATH or
// NAME=[FORMAT:]PATH, as a command-line flag gives it.
func ParseSource(s string) (Source, error) {
	var src Source
	if name, rest, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(name, `/\`) {
		src.Name, s = name, rest
	}
	if f, rest, ok := strings.Cut(s, ":"); ok {
		if format, err := ParseFormat(f); err == nil {
			src.Format, s = format, rest
		}
	}
	if s == "" {
		return Source{}, errors.New("blocklist: no file named")
	}
	src.Path = s
	return src, nil
}

// Options configure Lists.
type Options struct {
	// Interval is how often the files are checked for changes.
	Interval time.Duration
	// Settle is how long a changed file must then stay unchanged before it
	// is read, so that one written in place is not read half-written.
	Settle time.Duration
	// MaxEntries is the most entries one list may hold; a longer list is
	// refused as a failed load.
	MaxEntries int
	// OnChange, when set, is called from Run after a reload has changed the
	// entries in use.
	OnChange func(Update)
	Log      *slog.Logger
	// Registerer, when set, gets the lists' metrics.
	Registerer prometheus.Registerer
}

// An Update is a reload that changed a list.
type Update struct {
	List string
	// Added holds the entries that no list held before this reload: links
	// it matches were allowed when they were made and are not now. An entry
	// that another list already held is not in it.
	Added *Matcher
	// AddedCount and RemovedCount count entries that are new to, and gone
	// from, all the lists together.
	AddedCount, RemovedCount int
	// Sample holds up to ten of the added entries, as canonical hosts or
	// URLs, for the log.
	Sample []string
}

// Status is the state of one list.
type Status struct {
	Name, Path string
	Format     Format    // as read: what Auto decided
	Entries    int       // entries read from the file, before de-duplication
	Skipped    int       // lines that were neither entries nor comments
	Loaded     time.Time // when the entries in use were read
	// Err is why the last attempt to reload failed, or nil. The entries in
	// use are then still those of the last good load.
	Err error
}

// Lists holds the current entries of every list, matches URLs against them,
// and reloads a list when its file changes (Run).
//
// Files are polled with os.Stat rather than watched with inotify
// (fsnotify). Lists are replaced by writing a new file and renaming it over
// the old one, and in Kubernetes by swapping the symlink of a mounted
// ConfigMap's directory: neither is an event on the watched file itself, so
// a watcher must watch directories, re-add watches after every rename and
// follow symlinks by hand. inotify also misses changes on network file
// systems and is limited per user. A stat of each file every few seconds
// follows symlinks, sees all of these, costs nothing worth measuring, and
// adds no dependency; lists change every few minutes at most, so a few
// seconds' delay costs nothing either.
type Lists struct {
	opts    Options
	log     *slog.Logger
	seed    maphash.Seed
	names   []string
	sources []*source
	cur     atomic.Pointer[Matcher]
	metrics *metrics

	mu sync.Mutex // guards each source's status
}

type source struct {
	Source
	bit    uint64
	sig    fileSig // of the file last read, whether the read succeeded or not
	status Status
	gone   bool // the last stat failed; logged once
}

// Open reads every list. Any list that cannot be read fails Open: a service
// should not start without the lists it was told to use.
func Open(sources []Source, opts Options) (*Lists, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if len(sources) > maxLists {
		return nil, fmt.Errorf("blocklist: %d lists given, at most %d are supported", len(sources), maxLists)
	}
	l := &Lists{opts: opts, log: opts.Log, seed: maphash.MakeSeed()}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for i, s := range sources {
		if s.Name == "" {
			s.Name = strings.TrimSuffix(filepath.Base(s.Path), filepath.Ext(s.Path))
		}
		if s.Format == "" {
			s.Format = Auto
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("blocklist: two lists are named %q; name them apart with NAME=PATH", s.Name)
		}
		seen[s.Name] = true
		l.names = append(l.names, s.Name)
		l.sources = append(l.sources, &source{Source: s, bit: 1 << i, status: Status{Name: s.Name, Path: s.Path}})
	}
	l.metrics = newMetrics(opts.Registerer, l.names)
	l.cur.Store(newMatcher(l.seed, l.names, 0, 0))
	for _, s := range l.sources {
		sig, err := stat(s.Path)
		if err == nil {
			_, err = l.reload(s, sig)
		}
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Current returns the entries in use. A Matcher never changes: a reload
// makes a new one.
func (l *Lists) Current() *Matcher { return l.cur.Load() }

// Match matches u against the entries in use; see Matcher.Match.
func (l *Lists) Match(u string) (Match, bool) { return l.cur.Load().Match(u) }

// Blocked reports whether u is on a list, and why: it makes Lists a
// link.Screen.
func (l *Lists) Blocked(u string) (string, bool) {
	m, ok := l.Match(u)
	if !ok {
		return "", false
	}
	return m.String(), true
}

// Status returns the state of each list, in the order they were given.
func (l *Lists) Status() []Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Status, len(l.sources))
	for i, s := range l.sources {
		out[i] = s.status
	}
	return out
}

// Run checks the files every Interval and reloads those that changed, until
// ctx ends. A list that fails to reload is logged and counted, and its last
// good entries stay in use. Run returns nil when ctx ends.
func (l *Lists) Run(ctx context.Context) error {
	t := time.NewTicker(l.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, s := range l.sources {
			if ctx.Err() != nil {
				return nil
			}
			l.check(ctx, s)
		}
	}
}

// check reloads s if its file changed and has since stayed still for Settle.
func (l *Lists) check(ctx context.Context, s *source) {
	sig, err := stat(s.Path)
	if err != nil {
		if !s.gone {
			l.log.Warn("blocklist file cannot be read; keeping its last good entries", "list", s.Name, "err", err)
			l.metrics.failed(s.Name)
		}
		s.gone = true
		l.setErr(s, err)
		return
	}
	s.gone = false
	if sig.same(s.sig) {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(l.opts.Settle):
	}
	if again, err := stat(s.Path); err != nil || !again.same(sig) {
		return // still changing: the next check looks again
	}
	u, err := l.reload(s, sig)
	if err != nil {
		l.log.Error("blocklist reload failed; keeping its last good entries", "list", s.Name, "err", err)
		return
	}
	if u.AddedCount+u.RemovedCount > 0 && l.opts.OnChange != nil {
		l.opts.OnChange(u)
	}
}

// reload reads s, swaps in a Matcher with its new entries and returns what
// changed. On failure the entries in use stay as they were.
func (l *Lists) reload(s *source, sig fileSig) (Update, error) {
	s.sig = sig
	cur := l.cur.Load()
	set := entrySet{hosts: map[uint64]uint64{}, urls: map[uint64]uint64{}}
	var sample []string
	tooMany := false
	format, st, err := readFile(s.Path, s.Format, func(e entry) {
		if len(set.hosts)+len(set.urls) >= l.opts.MaxEntries {
			tooMany = true
			return
		}
		h := maphash.String(l.seed, e.key)
		target, old := set.hosts, cur.hosts
		if e.kind == URL {
			target, old = set.urls, cur.urls
		}
		if _, dup := target[h]; dup {
			return
		}
		target[h] = s.bit
		if old[h] == 0 && len(sample) < sampleSize {
			sample = append(sample, e.key)
		}
	})
	switch {
	case err != nil:
	case tooMany:
		err = fmt.Errorf("more than %d entries", l.opts.MaxEntries)
	case st.entries == 0 && st.skipped > 0:
		err = fmt.Errorf("no entries read as %s; %d lines skipped, the first at line %d: %q", format, st.skipped, st.firstSkipped, st.firstSkippedText)
	}
	if err != nil {
		err = fmt.Errorf("blocklist %s (%s): %w", s.Name, s.Path, err)
		l.setErr(s, err)
		l.metrics.failed(s.Name)
		return Update{}, err
	}

	next, added, nAdded, nRemoved := merge(cur, s.bit, set)
	l.cur.Store(next)
	now := time.Now()
	l.mu.Lock()
	s.status = Status{Name: s.Name, Path: s.Path, Format: format, Entries: st.entries, Skipped: st.skipped, Loaded: now}
	l.mu.Unlock()
	l.metrics.loaded(s.Name, len(set.hosts)+len(set.urls), now)
	args := []any{"list", s.Name, "path", s.Path, "format", format, "entries", st.entries, "added", nAdded, "removed", nRemoved}
	if st.skipped > 0 {
		args = append(args, "skipped_lines", st.skipped, "first_skipped_line", st.firstSkipped, "first_skipped", st.firstSkippedText)
	}
	l.log.Info("blocklist loaded", args...)
	return Update{List: s.Name, Added: added, AddedCount: nAdded, RemovedCount: nRemoved, Sample: sample}, nil
}

func (l *Lists) setErr(s *source, err error) {
	l.mu.Lock()
	s.status.Err = err
	l.mu.Unlock()
}

// entrySet is the entries of one list, as hashes, each mapped to the list's
// bit so that the maps can serve as a Matcher's when no other list has any.
type entrySet struct {
	hosts, urls map[uint64]uint64
}

// merge returns cur with the list whose bit is bit replaced by set, the
// entries that no list held before, and the counts of entries added to and
// removed from all lists together.
func merge(cur *Matcher, bit uint64, set entrySet) (next, added *Matcher, nAdded, nRemoved int) {
	if cur.Len() == 0 { // the first list loaded: everything is new
		next = &Matcher{seed: cur.seed, names: cur.names, hosts: set.hosts, urls: set.urls}
		return next, next, next.Len(), 0
	}
	next = newMatcher(cur.seed, cur.names, len(cur.hosts)+len(set.hosts), len(cur.urls)+len(set.urls))
	added = newMatcher(cur.seed, cur.names, 0, 0)
	for _, p := range []struct {
		cur, next, added, set map[uint64]uint64
	}{
		{cur.hosts, next.hosts, added.hosts, set.hosts},
		{cur.urls, next.urls, added.urls, set.urls},
	} {
		for k, bits := range p.cur {
			if b := bits &^ bit; b != 0 {
				p.next[k] = b
			} else if _, kept := p.set[k]; !kept {
				nRemoved++
			}
		}
		for k := range p.set {
			p.next[k] |= bit
			if p.cur[k] == 0 {
				p.added[k] = bit
				nAdded++
			}
		}
	}
	return next, added, nAdded, nRemoved
}

// readFile parses the list at path, gzip-compressed or not.
func readFile(path string, f Format, add func(entry)) (Format, stats, error) {
	file, err := os.Open(path)
	if err != nil {
		return f, stats{}, err
	}
	defer file.Close()
	br := bufio.NewReader(file)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return f, stats{}, err
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(magic, []byte("PK\x03\x04")):
		return f, stats{}, errors.New("the file is a zip archive; unpack the list from it first")
	}
	return parse(r, f, add)
}

// fileSig identifies a version of a file well enough to notice a new one.
type fileSig struct {
	info os.FileInfo
}

func stat(path string) (fileSig, error) {
	fi, err := os.Stat(path) // follows symlinks, as a ConfigMap mount needs
	if err != nil {
		return fileSig{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileSig{}, fmt.Errorf("%s is not a regular file", path)
	}
	return fileSig{info: fi}, nil
}

// same reports whether s and o are the same file (device and inode) with
// the same size, modification time and mode.
func (s fileSig) same(o fileSig) bool {
	if s.info == nil || o.info == nil {
		return false
	}
	return os.SameFile(s.info, o.info) && s.info.Size() == o.info.Size() &&
		s.info.ModTime().Equal(o.info.ModTime()) && s.info.Mode() == o.info.Mode()
}

// metrics are the lists' Prometheus metrics, labelled by list name (a
// handful, from configuration). A nil *metrics records nothing.
type metrics struct {
	entries  *prometheus.GaugeVec
	loadedAt *prometheus.GaugeVec
	failures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, names []string) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shortlinks_blocklist_entries",
			Help: "Distinct entries in each blocklist in use.",
		}, []string{"list"}),
		loadedAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shortlinks_blocklist_loaded_timestamp_seconds",
			Help: "When the entries of each blocklist in use were read.",
		}, []string{"list"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_blocklist_load_failures_total",
			Help: "Failed reads of blocklist files; the last good entries stay in use.",
		}, []string{"list"}),
	}
	reg.MustRegister(m.entries, m.loadedAt, m.failures)
	for _, n := range names {
		m.failures.WithLabelValues(n)
	}
	return m
}

func (m *metrics) loaded(list string, entries int, at time.Time) {
	if m == nil {
		return
	}
	m.entries.WithLabelValues(list).Set(float64(entries))
	m.loadedAt.WithLabelValues(list).Set(float64(at.UnixNano()) / 1e9)
}

func (m *metrics) failed(list string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(list).Inc()
}
