package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
)

// disablePage is how many links one query of a disabling pass reads: the
// pass holds one page in memory at a time, whatever the number of links.
const disablePage = 1000

// Causes of automatic disabling, as the metric and the audit log name them.
const (
	causeBlocklist    = "blocklist"
	causeSafeBrowsing = "safe_browsing"
)

// errUnchanged stops an edit that would change nothing: the link was
// disabled already.
var errUnchanged = errors.New("already disabled")

// storeDisabler is the LinkDisabler over the link store. It reads links in
// pages, oldest first, from lister (a replica will do: each link is read
// again in the edit's transaction), and disables them through editor,
// which must be the cache, so that every instance stops redirecting them
// within the cache's staleness bound. Each link it disables is recorded in
// the audit log as done by the server itself (no actor), with the reason.
type storeDisabler struct {
	lister   link.Lister
	editor   link.Editor
	audit    *audit.Log
	now      func() time.Time
	disabled *prometheus.CounterVec
	page     int
}

func newStoreDisabler(lister link.Lister, editor link.Editor, log *audit.Log, reg prometheus.Registerer) *storeDisabler {
	d := &storeDisabler{
		lister: lister, editor: editor, audit: log, now: time.Now, page: disablePage,
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_links_auto_disabled_total",
			Help: "Links disabled by the server itself: newly covered by a blocklist update, or flagged by Safe Browsing.",
		}, []string{"cause"}),
	}
	for _, c := range []string{causeBlocklist, causeSafeBrowsing} {
		d.disabled.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(d.disabled)
	}
	return d
}

var _ LinkDisabler = (*storeDisabler)(nil)

// DisableMatching implements LinkDisabler. A link matches when its URL, or
// the URL of any of its rules, does. Links already disabled, and expired
// ones, which no longer redirect anyway, are passed over. A link that
// matches only because it was edited after its page was read is still
// checked against what is stored: the edit re-reads it.
func (d *storeDisabler) DisableMatching(ctx context.Context, match func(url string) bool, reason string) (int, error) {
	var after *link.Cursor
	n := 0
	for {
		page, err := d.lister.List(ctx, link.ListQuery{After: after, Limit: d.page, Oldest: true})
		if err != nil {
			return n, fmt.Errorf("disable links: list: %w", err)
		}
		now := d.now()
		for _, l := range page {
			if !l.DisabledAt.IsZero() || (!l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt)) || !matches(l, match) {
				continue
			}
			ok, err := d.disable(ctx, l.Code, reason, causeBlocklist, func(stored link.Link) bool { return matches(stored, match) })
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		if len(page) < d.page {
			return n, nil
		}
		last := page[len(page)-1]
		after = &link.Cursor{CreatedAt: last.CreatedAt, Code: last.Code}
	}
}

// matches reports whether l leads, by its URL or a rule's, where match
// says.
func matches(l link.Link, match func(string) bool) bool {
	if match(l.URL) {
		return true
	}
	for _, r := range l.Rules {
		if match(r.URL) {
			return true
		}
	}
	return false
}

// DisableLink implements LinkDisabler for a Safe Browsing verdict.
func (d *storeDisabler) DisableLink(ctx context.Context, c link.Code, url, reason string) (bool, error) {
	return d.disable(ctx, c, reason, causeSafeBrowsing, func(l link.Link) bool { return matches(l, func(u string) bool { return u == url }) })
}

// disable disables the link for c, if still holds for the link as stored,
// and records it. It reports whether it disabled the link: a
// link deleted, already disabled or changed meanwhile is left as it is.
func (d *storeDisabler) disable(ctx context.Context, c link.Code, reason, cause string, still func(link.Link) bool) (bool, error) {
	reason = truncate(reason, link.MaxReasonLength)
	_, after, err := d.editor.Update(ctx, c, func(l *link.Link) error {
		if !l.DisabledAt.IsZero() || !still(*l) {
			return errUnchanged
		}
		l.DisabledAt = d.now().UTC().Truncate(time.Microsecond)
		l.DisabledReason = reason
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged), errors.Is(err, link.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("disable %s: %w", c, err)
	}
	d.disabled.WithLabelValues(cause).Inc()
	// The link stays disabled if the entry cannot be stored; the audit
	// log writes it to the error log instead.
	_ = d.audit.Link(ctx, audit.Actor{}, audit.LinkDisable, string(c), map[string]any{
		"reason": reason, "cause": cause, "url": after.URL,
	})
	return true, nil
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
