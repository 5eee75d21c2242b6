package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/shortlinks/shortlinks/internal/blocklist"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/safebrowsing"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// dashImports runs the import jobs of the dashboard and the API as
// 'shortlinks import' does, into the same storage, and holds every
// destination to the checks a create is held to: the blocklists, and Safe
// Browsing when configured.
type dashImports struct {
	st      *Storage
	domains *link.Domains
	screen  link.Screen // nil: no blocklists
	unsafe  func(ctx context.Context, urls []string) (map[string]string, error)
}

// Run is an importjob.Run.
func (d dashImports) Run(ctx context.Context, src transfer.Source, opts importer.Options, by link.Principal, createDomains bool) (importer.Summary, error) {
	opts.Screen, opts.Unsafe = d.screen, d.unsafe
	opts.Domain = ImportDomains(d.domains, by, createDomains, opts.DryRun)
	im, err := d.st.Importer(ctx, opts)
	if err != nil {
		return importer.Summary{}, err
	}
	return im.Run(ctx, src)
}

// ImportChecks builds, for an import outside the server ('shortlinks
// import'), the destination checks the server holds creates to: the
// blocklists cfg names, read once, and a Safe Browsing lookup of each
// batch when cfg has a key. Either may be nil.
func ImportChecks(cfg config.Config, log *slog.Logger) (link.Screen, func(ctx context.Context, urls []string) (map[string]string, error), error) {
	var screen link.Screen
	if len(cfg.Blocklists) > 0 {
		sources := make([]blocklist.Source, 0, len(cfg.Blocklists))
		for _, b := range cfg.Blocklists {
			src, err := blocklist.ParseSource(strings.TrimSpace(b))
			if err != nil {
				return nil, nil, fmt.Errorf("blocklist %q: %w", b, err)
			}
			sources = append(sources, src)
		}
		lists, err := blocklist.Open(sources, blocklist.Options{Log: log})
		if err != nil {
			return nil, nil, err
		}
		screen = lists
	}
	return screen, safeBrowsingLookup(cfg), nil
}

// safeBrowsingLookup returns a lookup of many URLs at once in Safe
// Browsing, for imports, or nil when cfg has no key. It asks the API
// directly, MaxURLsPerRequest at a time, rather than through the create
// path's Checker, whose queue answers later and may drop URLs: an import
// refuses a flagged record instead of storing it and disabling it after.
func safeBrowsingLookup(cfg config.Config) func(ctx context.Context, urls []string) (map[string]string, error) {
	if cfg.SafeBrowsing.Key == "" {
		return nil
	}
	client := safebrowsing.NewClient(cfg.SafeBrowsing.Key, safebrowsing.ClientOptions{Endpoint: cfg.SafeBrowsing.Endpoint})
	return func(ctx context.Context, urls []string) (map[string]string, error) {
		flagged := make(map[string]string)
		for len(urls) > 0 {
			chunk := urls[:min(len(urls), safebrowsing.MaxURLsPerRequest)]
			urls = urls[len(chunk):]
			found, err := client.Find(ctx, chunk)
			if err != nil {
				return nil, err
			}
			for u, threats := range found {
				kinds := make([]string, len(threats))
				for i, t := range threats {
					kinds[i] = string(t.Type)
				}
				flagged[u] = strings.Join(kinds, ", ")
			}
		}
		return flagged, nil
	}
}

// errUnknownDomain refuses a record on a short domain that is not here.
func errUnknownDomain(host string) error {
	return &link.Error{Kind: link.Invalid, Code: "unknown_domain", Field: "domain",
		Message: "No short domain " + host + " is here; an administrator can add it, or import with create_domains to add the domains records name."}
}

// ImportDomains resolves the short domains that import records name, for
// importer.Options.Domain: the default domain's host, or a domain that is
// here, gives its id; an unknown one is added when create is set and by
// is an admin (in a dry run it is only said to be addable), and refuses
// the record otherwise.
func ImportDomains(doms *link.Domains, by link.Principal, create, dryRun bool) func(ctx context.Context, host string) (int64, error) {
	return func(ctx context.Context, host string) (int64, error) {
		d, err := doms.Named(host)
		if err == nil {
			return d.ID, nil
		}
		if !errors.Is(err, link.ErrDomainNotFound) {
			return 0, err
		}
		if !create || !by.Admin {
			return 0, errUnknownDomain(host)
		}
		if dryRun {
			// Not added: no link of this run is stored, and no code is
			// in use on a domain that is not there yet.
			return -1, nil
		}
		d, err = doms.Add(ctx, by, link.NewDomain{Host: host})
		if errors.Is(err, link.ErrDomainTaken) {
			// Added meanwhile (by another instance): use it.
			if err := doms.Reload(ctx); err != nil {
				return 0, err
			}
			d, err = doms.Named(host)
		}
		return d.ID, err
	}
}
