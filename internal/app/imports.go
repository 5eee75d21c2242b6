package app

import (
	"context"
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
	st     *Storage
	screen link.Screen // nil: no blocklists
	unsafe func(ctx context.Context, urls []string) (map[string]string, error)
}

// Run is an importjob.Run.
func (d dashImports) Run(ctx context.Context, src transfer.Source, opts importer.Options, by link.Principal, createDomains bool) (importer.Summary, error) {
	opts.Screen, opts.Unsafe = d.screen, d.unsafe
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
