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

var (
	_ link.Generator      = (*Generator)(nil)
	_ link.BatchGenerator = (*Generator)(nil)
)

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
	return g.code(ctx, g.block)
}

// NextN returns n codes never returned before by any Generator on the same
// counter and key. It takes what is left of the current block first and
// then reserves exactly the ids it still needs, so that a bulk load leaves
// no reserved id unused.
func (g *Generator) NextN(ctx context.Context, n int) ([]link.Code, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	codes := make([]link.Code, n)
	for i := range codes {
		c, err := g.code(ctx, uint64(n-i))
		if err != nil {
			return nil, err
		}
		codes[i] = c
	}
	return codes, nil
}

// code encodes the next id, reserving reserve more when the block is used
// up. g.mu is held.
func (g *Generator) code(ctx context.Context, reserve uint64) (link.Code, error) {
	if g.next == g.end {
		first, err := g.counter.ReserveIDs(ctx, reserve)
		if err != nil {
			return "", fmt.Errorf("reserve ids: %w", err)
		}
		g.next, g.end = first, first+reserve
	}
	id := g.next
	g.next++
	c, err := g.perm.Encode(id)
	if err != nil {
		return "", err
	}
	return link.Code(c), nil
}
