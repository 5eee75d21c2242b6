// Package exporter writes every live link out in one of Shortlinks'
// interchange formats (package transfer), a page at a time, so an export of
// any size holds one page in memory. What it writes, 'shortlinks import
// --from csv|jsonl' reads back.
package exporter

import (
	"context"
	"fmt"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// PageSize is how many links each page holds.
const PageSize = link.MaxPageSize

// Pages returns the page of links after a cursor (nil: the first), as
// link.Service.Search does for an admin given Query(after).
type Pages func(ctx context.Context, after *link.Cursor) (link.Page, error)

// Query selects the page of links after a cursor (nil: the first), with
// each link's clicks by people of all time.
func Query(after *link.Cursor) link.ListQuery {
	return link.ListQuery{After: after, Limit: PageSize, WithClicks: true}
}

// Hosts returns the host of the short domain with an id other than the
// default one's; *link.Domains' Host is one.
type Hosts func(domain int64) string

// Write writes every link that pages yields to w, flushes it, and returns
// how many it wrote. A link on a branded domain carries its host (hosts
// names it) in the domain column; one on the default domain leaves it
// empty, so that an import elsewhere puts it on that server's default
// domain. Links created while it runs may or may not be included; none is
// written twice.
func Write(ctx context.Context, pages Pages, hosts Hosts, w transfer.Writer) (int64, error) {
	var n int64
	var after *link.Cursor
	for {
		page, err := pages(ctx, after)
		if err != nil {
			return n, fmt.Errorf("export: list after %d links: %w", n, err)
		}
		for _, l := range page.Links {
			r := Record(l)
			if l.Domain != link.DefaultDomain && hosts != nil {
				r.Domain = hosts(l.Domain)
			}
			if err := w.Write(r); err != nil {
				return n, fmt.Errorf("export: write %s: %w", l.Code, err)
			}
			n++
		}
		if page.Next == nil {
			break
		}
		after = page.Next
	}
	if err := w.Flush(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	return n, nil
}

// Record describes l in the interchange formats, without its domain (see
// Write). Its clicks are l.Clicks, which a page read with Query fills.
func Record(l link.Link) transfer.Record {
	r := transfer.Record{
		Code:       string(l.Code),
		URL:        l.URL,
		Title:      l.Title,
		Tags:       l.Tags,
		CreatedAt:  l.CreatedAt,
		ExpiresAt:  l.ExpiresAt,
		ValidSince: l.ValidFrom,
		MaxVisits:  l.MaxVisits,
		Disabled:   !l.DisabledAt.IsZero(),
		Clicks:     l.Clicks,
	}
	if l.ForwardQuery {
		r.ForwardQuery = &l.ForwardQuery
	}
	return r
}
