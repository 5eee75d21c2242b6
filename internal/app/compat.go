package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/compat/shlink"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
)

// linkCounter counts links; both engines are one.
type linkCounter interface {
	CountLinks(ctx context.Context, owner int64) (int64, error)
	CountClicks(ctx context.Context, owner int64) (int64, error)
}

// clickTotals reads links' click totals; analytics.Stats is one.
type clickTotals interface {
	Totals(ctx context.Context, linkIDs []int64) (map[int64]analytics.TotalCount, error)
}

// compatCounts gives other shorteners' APIs their totals: the principal's
// live links (every link for an admin), each link's clicks by people and
// the sum of those when click analytics is on (clicks nil: zeros).
type compatCounts struct {
	db     linkCounter
	clicks clickTotals
}

func (c compatCounts) Totals(ctx context.Context, p link.Principal) (links, clicks int64, err error) {
	owner := p.KeyID
	if p.Admin {
		owner = 0
	}
	if links, err = c.db.CountLinks(ctx, owner); err != nil || c.clicks == nil {
		// Without click analytics every link's clicks read 0, so their
		// sum does too.
		return links, 0, err
	}
	clicks, err = c.db.CountClicks(ctx, owner)
	return links, clicks, err
}

func (c compatCounts) Clicks(ctx context.Context, ids []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(ids))
	if c.clicks == nil || len(ids) == 0 {
		return out, nil
	}
	totals, err := c.clicks.Totals(ctx, ids)
	if err != nil {
		return nil, err
	}
	for id, t := range totals {
		out[id] = t.Humans
	}
	return out, nil
}

// shlinkAPI is the Shlink-compatible API over the same link service (with
// the audit log of admins' deletes), keys and per-key create limit as the
// native API; checks are what /readyz runs, of which the critical ones
// decide Shlink's /rest/health.
func (a *App) shlinkAPI(cfg config.Config, log *slog.Logger, checks []httpapi.Check, keyLimit httpapi.KeyLimiter, stats analytics.Stats) *shlink.API {
	var visits shlink.Visits
	if stats != nil {
		visits = shlinkVisits{Stats: stats, links: a.links}
	}
	return shlink.New(auditedLinks{a.links, a.audit}, a.keys, log, shlink.Options{
		Visits:     visits,
		BaseURL:    cfg.BaseURL,
		URLRules:   LinkRules(cfg),
		KeyLimiter: keyLimit,
		Domains:    a.links.Domains(),
		Healthy: func(ctx context.Context) error {
			for _, c := range checks {
				if !c.Critical {
					continue
				}
				if err := c.Run(ctx); err != nil {
					return fmt.Errorf("%s: %w", c.Name, err)
				}
			}
			return nil
		},
	})
}

// accountSignIn signs the YOURLS API's username and password in as the
// dashboard signs people in: through the account service, with its limits
// per address and per email, and a password hash for every attempt, so
// that an unknown user and a wrong password take as long.
type accountSignIn struct{ users *account.Service }

func (s accountSignIn) SignIn(ctx context.Context, email, password, addr string) (link.Principal, error) {
	u, err := s.users.SignIn(ctx, email, password, addr)
	if err != nil {
		return link.Principal{}, err
	}
	return u.Principal(), nil
}

// summer adds up every link's clicks; both sinks are one.
type summer interface {
	Sum(ctx context.Context) (analytics.TotalCount, error)
}

// linkPager pages through the links a principal may see; *link.Service is
// one.
type linkPager interface {
	List(ctx context.Context, p link.Principal, after *link.Cursor, limit int) (link.Page, error)
}

// summaryPages bounds the pages of links a non-admin's visits summary
// adds up: a key with more than summaryPages×1000 links sees the clicks
// of its newest ones.
const summaryPages = 100

// shlinkVisits gives the Shlink-compatible API its visits from click
// analytics.
type shlinkVisits struct {
	analytics.Stats
	links linkPager
}

// Summary adds up the clicks of the links p may see: every link's, in one
// query, for an admin, with the orphan visits of all time; a page of
// totals at a time over the principal's own links otherwise.
func (v shlinkVisits) Summary(ctx context.Context, p link.Principal) (analytics.TotalCount, int64, error) {
	var sum analytics.TotalCount
	if p.Admin {
		s, ok := v.Stats.(summer)
		if !ok {
			return sum, 0, fmt.Errorf("visits summary: %T cannot add up totals", v.Stats)
		}
		sum, err := s.Sum(ctx)
		if err != nil {
			return sum, 0, err
		}
		counts, err := v.Orphans(ctx, time.Unix(0, 0), time.Now().Add(time.Hour))
		if err != nil {
			return sum, 0, err
		}
		var orphans int64
		for _, c := range counts {
			orphans += c.Visits
		}
		return sum, orphans, nil
	}
	var after *link.Cursor
	for range summaryPages {
		pg, err := v.links.List(ctx, p, after, 1000)
		if err != nil {
			return sum, 0, err
		}
		ids := make([]int64, len(pg.Links))
		for i, l := range pg.Links {
			ids[i] = l.ID
		}
		totals, err := v.Totals(ctx, ids)
		if err != nil {
			return sum, 0, err
		}
		for _, t := range totals {
			sum.Humans += t.Humans
			sum.Bots += t.Bots
		}
		if pg.Next == nil {
			break
		}
		after = pg.Next
	}
	return sum, 0, nil
}
