package shortcode

import (
	"context"
	"fmt"
	"sync"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Counter hands out ids that are never handed out again, even across
// restarts and instances.
type Counter interface {
	// ReserveIDs reserves n consecutive ids and returns the first.
	ReserveIDs(ctx context.Context, n uint64) (first uint64, err error)
}

// Generator draws ids from a Counter in blocks, so that most codes cost no
// round trip to storage, and encodes them with a Permutation. Ids left in a
// block when the process stops are never used; that is the price of not
// writing to storage on every create.
type Generator struct {
	perm    *Permutation
	counter Counter
	block   uint64

	mu        sync.Mutex
	next, end uint64
}

var _ link.Generator = (*Generator)(nil)

// DefaultBlock is how many ids a Generator reserves at a time.
const DefaultBlock = 1000

// NewGenerator returns a Generator reserving block ids at a time.
func NewGenerator(perm *Permutation, counter Counter, block uint64) *Generator {
	if block == 0 {
		block = DefaultBlock
	}
	return &Generator{perm: perm, counter: counter, block: block}
}

// Next returns a code never returned before by any Generator on the same
// counter and key.
func (g *Generator) Next(ctx context.Context) (link.Code, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next == g.end {
		first, err := g.counter.ReserveIDs(ctx, g.block)
		if err != nil {
			return "", fmt.Errorf("reserve ids: %w", err)
		}
		g.next, g.end = first, first+g.block
	}
	id := g.next
	g.next++
	c, err := g.perm.Encode(id)
	if err != nil {
		return "", err
	}
	return link.Code(c), nil
}
