package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/blocklist"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/safebrowsing"
)

// LinkDisabler takes live links out of service when a policy turns against
// them after they were made: a blocklist update that covers them, a Safe
// Browsing verdict. Disabled links are kept, not deleted, so that an admin
// can look at them and enable them again. Both methods are called off the
// request path.
type LinkDisabler interface {
	// DisableMatching disables every live link whose URL match reports
	// true, giving reason, and returns how many it disabled.
	DisableMatching(ctx context.Context, match func(url string) bool, reason string) (int, error)
	// DisableLink disables the link with code if it still leads to url
	// (by its URL or a rule's), giving reason, and reports whether it did:
	// a verdict about a URL the link no longer has is stale.
	DisableLink(ctx context.Context, code link.Code, url, reason string) (bool, error)
}

// Time limits of disabling: one link after a verdict, and one pass over
// every link after a list update (pages of a thousand links, each a few
// milliseconds, so millions of links take minutes).
const (
	disableTimeout     = 30 * time.Second
	disablePassTimeout = 2 * time.Hour
)

// screening is the abuse defences that decide about destinations: the
// blocklists, checked on every create, and Safe Browsing, asked after each
// create off the request path. Either may be absent.
type screening struct {
	lists    *blocklist.Lists
	checker  *safebrowsing.Checker
	disabler LinkDisabler // nil: verdicts on existing links are logged only
	log      *slog.Logger

	// List updates wait here for the pass that disables the links they
	// cover, so that the reload loop never waits for a pass.
	mu      sync.Mutex
	pending []blocklist.Update
	wake    chan struct{}
}

// newScreening builds what cfg asks for. A list that cannot be read fails
// it: a server should not start without the lists it was told to use.
func newScreening(cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (*screening, error) {
	s := &screening{log: log, wake: make(chan struct{}, 1)}
	if len(cfg.Blocklists) > 0 {
		sources := make([]blocklist.Source, 0, len(cfg.Blocklists))
		for _, b := range cfg.Blocklists {
			src, err := blocklist.ParseSource(strings.TrimSpace(b))
			if err != nil {
				return nil, fmt.Errorf("blocklist %q: %w", b, err)
			}
			sources = append(sources, src)
		}
		lists, err := blocklist.Open(sources, blocklist.Options{Log: log, Registerer: reg, OnChange: s.listChanged})
		if err != nil {
			return nil, err
		}
		for _, st := range lists.Status() {
			log.Info("blocklist loaded", "list", st.Name, "path", st.Path, "format", string(st.Format), "entries", st.Entries, "skipped", st.Skipped)
		}
		s.lists = lists
	}
	if cfg.SafeBrowsing.Key != "" {
		client := safebrowsing.NewClient(cfg.SafeBrowsing.Key, safebrowsing.ClientOptions{Endpoint: cfg.SafeBrowsing.Endpoint})
		s.checker = safebrowsing.New(client, safebrowsing.Options{Log: log, Registerer: reg, OnVerdict: s.verdict})
	}
	return s, nil
}

// linkOptions puts the defences into the link service's options.
func (s *screening) linkOptions(opts *link.Options) {
	if s.lists != nil {
		opts.Screen = s.lists
	}
	if c := s.checker; c != nil {
		// Check only queues the URL: the create does not wait for it.
		opts.AfterCreate = func(l link.Link) { c.Check(string(l.Code), l.URL) }
	}
}

// workers are the background loops the defences need: reloading changed
// list files, looking URLs up.
func (s *screening) workers() []func(context.Context) error {
	var w []func(context.Context) error
	if s.lists != nil {
		w = append(w, s.lists.Run, s.runPasses)
	}
	if s.checker != nil {
		w = append(w, s.checker.Run)
	}
	return w
}

// listChanged queues a pass that disables the live links a list update
// newly covers. It runs in the lists' reload loop, which must not wait for
// a pass over every link.
func (s *screening) listChanged(u blocklist.Update) {
	if u.AddedCount == 0 {
		return
	}
	if s.disabler == nil {
		s.log.Warn("blocklist update covers entries that existing links may lead to; they stay live: link disabling is not wired",
			"list", u.List, "added", u.AddedCount, "sample", u.Sample)
		return
	}
	s.mu.Lock()
	s.pending = append(s.pending, u)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// runPasses runs the queued passes, one at a time, until ctx ends. A pass
// that ctx cuts short is lost with the process: the links it had not
// reached yet stay live until the list changes again.
func (s *screening) runPasses(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.pending) == 0 {
				s.mu.Unlock()
				break
			}
			u := s.pending[0]
			s.pending = s.pending[1:]
			s.mu.Unlock()
			s.pass(ctx, u)
		}
	}
}

// pass disables the live links that u newly covers.
func (s *screening) pass(ctx context.Context, u blocklist.Update) {
	ctx, cancel := context.WithTimeout(ctx, disablePassTimeout)
	defer cancel()
	start := time.Now()
	n, err := s.disabler.DisableMatching(ctx, func(url string) bool {
		_, hit := u.Added.Match(url)
		return hit
	}, "on the blocklist "+u.List)
	if err != nil {
		s.log.Error("blocklist update: disabling links failed", "list", u.List, "disabled", n, "err", err)
		return
	}
	s.log.Info("blocklist update: links disabled", "list", u.List, "added", u.AddedCount, "disabled", n,
		"took", time.Since(start).Round(time.Millisecond).String())
}

// verdict disables a link Safe Browsing found on a threat list. It runs
// in a lookup worker, off the request path.
func (s *screening) verdict(v safebrowsing.Verdict) {
	if v.Safe() {
		return
	}
	if s.disabler == nil {
		s.log.Warn("safe browsing flagged a link; it stays live: link disabling is not wired", "code", v.ID)
		return
	}
	types := make([]string, len(v.Threats))
	for i, t := range v.Threats {
		types[i] = string(t.Type)
	}
	ctx, cancel := context.WithTimeout(context.Background(), disableTimeout)
	defer cancel()
	ok, err := s.disabler.DisableLink(ctx, link.Code(v.ID), v.URL, "Safe Browsing: "+strings.Join(types, ", "))
	if err != nil {
		s.log.Error("safe browsing: disabling a flagged link failed", "code", v.ID, "err", err)
		return
	}
	if ok {
		s.log.Info("safe browsing: flagged link disabled", "code", v.ID)
	}
}
