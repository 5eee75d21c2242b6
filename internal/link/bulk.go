package link

import (
	"context"
	"fmt"
)

// BatchStore stores many new links at once.
//
// InsertBatch stores all of links or none of them: a code already used,
// deleted links included, or given twice fails the whole batch with
// ErrCodeTaken. Any error that means the engine cannot be reached wraps
// ErrUnavailable. A link's ImportedClicks, when positive, become its click
// total of all time (people's clicks) in the same transaction, so that a
// link is never stored without them nor counted twice.
type BatchStore interface {
	InsertBatch(ctx context.Context, links []Link) error
}

// BatchGenerator makes many new codes at once.
type BatchGenerator interface {
	// NextN returns n codes never returned before.
	NextN(ctx context.Context, n int) ([]Code, error)
}

// Loader adds links in bulk, away from the request path: it fills a
// database for load tests ('shortlinks seed'), and it is the path for
// importers and bulk creation. It applies none of Service's rules: callers
// check what they did not make themselves (NormalizeURL, ValidateAlias)
// before loading it.
type Loader struct {
	store BatchStore
	codes BatchGenerator
}

// NewLoader returns a Loader that stores through store and draws new codes
// from codes.
func NewLoader(store BatchStore, codes BatchGenerator) *Loader {
	return &Loader{store: store, codes: codes}
}

// Load gives each link in links without a Code a new one, in place, and
// stores them all in one batch: all of them or none. A code already used
// fails the whole batch with ErrCodeTaken; the codes drawn for it are not
// drawn again.
func (l *Loader) Load(ctx context.Context, links []Link) error {
	var missing int
	for _, k := range links {
		if k.Code == "" {
			missing++
		}
	}
	if missing > 0 {
		codes, err := l.codes.NextN(ctx, missing)
		if err != nil {
			return fmt.Errorf("load: generate codes: %w", err)
		}
		for i := range links {
			if links[i].Code == "" {
				links[i].Code, codes = codes[0], codes[1:]
			}
		}
	}
	if err := l.store.InsertBatch(ctx, links); err != nil {
		return fmt.Errorf("load %d links: %w", len(links), err)
	}
	return nil
}
