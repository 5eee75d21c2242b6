package app

import (
	"context"

	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/transfer"
)

// dashImports runs the dashboard's imports as 'shortlinks import' does,
// into the same storage, and refuses what the blocklists refuse at create.
type dashImports struct {
	st     *Storage
	screen link.Screen // nil: no blocklists
}

func (d dashImports) Import(ctx context.Context, src transfer.Source, dryRun bool, report func(importer.Outcome)) (importer.Summary, error) {
	im, err := d.st.Importer(ctx, importer.Options{DryRun: dryRun, Report: report, Screen: d.screen})
	if err != nil {
		return importer.Summary{}, err
	}
	return im.Run(ctx, src)
}
