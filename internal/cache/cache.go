// Package cache keeps links close to the redirect path. Store is a
// read-through link.Store in front of another one; it holds a bounded
// in-process tier (W-TinyLFU, through otter) and remembers unknown codes
// briefly, so a flood of bad codes does not reach the database.
package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Defaults for Options.
const (
	DefaultSize        = 1_000_000
	DefaultTTL         = time.Minute
	DefaultNegativeTTL = 10 * time.Second
)

// Options configure a Store.
type Options struct {
	// Size is the most links held in process.
	Size int
	// TTL bounds how long an entry is served without asking the next tier:
	// the staleness bound for a link deleted through another instance.
	TTL time.Duration
	// NegativeTTL is how long an unknown code is remembered as unknown.
	NegativeTTL time.Duration
}

// entry is a cached lookup: a link, or the fact that there is none.
type entry struct {
	link    link.Link
	missing bool
}

// Store is a read-through cache in front of another link.Store.
type Store struct {
	next    link.Store
	local   *otter.Cache[link.Code, entry]
	counter *stats.Counter
	ttl     time.Duration
	negTTL  time.Duration
	now     func() time.Time
}

var _ link.Store = (*Store)(nil)

// New returns a Store in front of next.
func New(next link.Store, opts Options) (*Store, error) {
	if opts.Size <= 0 {
		opts.Size = DefaultSize
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	s := &Store{next: next, counter: stats.NewCounter(), ttl: opts.TTL, negTTL: opts.NegativeTTL, now: time.Now}
	c, err := otter.New(&otter.Options[link.Code, entry]{
		MaximumSize:      opts.Size,
		StatsRecorder:    s.counter,
		ExpiryCalculator: otter.ExpiryWritingFunc(s.lifetime),
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	s.local = c
	return s, nil
}

// lifetime is how long an entry may stay: never past its link's expiry.
func (s *Store) lifetime(e otter.Entry[link.Code, entry]) time.Duration {
	if e.Value.missing {
		return s.negTTL
	}
	d := s.ttl
	if exp := e.Value.link.ExpiresAt; !exp.IsZero() {
		left := exp.Sub(s.now())
		if left <= 0 {
			// Already expired: the service answers 410 from it; keep it
			// as briefly as an unknown code.
			return s.negTTL
		}
		d = min(d, left)
	}
	return d
}

// Get returns the link for c from the nearest tier that has it.
func (s *Store) Get(ctx context.Context, c link.Code) (link.Link, error) {
	e, ok := s.local.GetIfPresent(c)
	if !ok {
		var err error
		// otter runs one load per code at a time; concurrent misses wait for it.
		e, err = s.local.Get(ctx, c, otter.LoaderFunc[link.Code, entry](s.load))
		if err != nil {
			return link.Link{}, err
		}
	}
	if e.missing {
		return link.Link{}, link.ErrNotFound
	}
	return e.link, nil
}

func (s *Store) load(ctx context.Context, c link.Code) (entry, error) {
	l, err := s.next.Get(ctx, c)
	switch {
	case err == nil:
		return entry{link: l}, nil
	case errors.Is(err, link.ErrNotFound):
		return entry{missing: true}, nil
	default:
		return entry{}, err
	}
}

// Insert stores l in the next tier and then caches it, replacing any
// memory of the code being unknown.
func (s *Store) Insert(ctx context.Context, l link.Link) error {
	if err := s.next.Insert(ctx, l); err != nil {
		return err
	}
	s.local.Set(l.Code, entry{link: l})
	return nil
}

// Delete deletes c from the next tier and forgets it here.
func (s *Store) Delete(ctx context.Context, c link.Code) error {
	err := s.next.Delete(ctx, c)
	s.local.Invalidate(c)
	return err
}

// Stats reports the in-process tier's hits, misses and evictions.
func (s *Store) Stats() stats.Stats { return s.counter.Snapshot() }

// Len is the number of entries held in process.
func (s *Store) Len() int { return s.local.EstimatedSize() }
