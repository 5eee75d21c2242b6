package link

import (
	"context"
	"errors"
	"fmt"
)

// MaxBatch is the most links one CreateBatch takes.
const MaxBatch = 1000

// Result is the outcome of one item of a CreateBatch: the link stored, or
// why it was not.
type Result struct {
	Link Link
	Err  error
}

// CreateBatch creates the links ps ask for, each checked as Create checks
// it, and returns one Result per item, in order. An item that breaks a rule,
// or asks for an alias that is taken (by an existing link or by an earlier
// item on the same domain), fails alone; each item names its domain as
// Create's params do. The others are stored together in one transaction
// through the Loader when there is one; if an alias was taken meanwhile,
// they are stored one at a time instead. The error is for failures that
// stop the whole batch, such as storage being unavailable.
//
// Links from one batch go to the cache's tiers only when first read, so a
// code that was looked up, unknown, just before may answer 404 for up to the
// cache's negative TTL.
func (s *Service) CreateBatch(ctx context.Context, ps []CreateParams) ([]Result, error) {
	if len(ps) > MaxBatch {
		return nil, invalid("links", "too_many_links", fmt.Sprintf("Send at most %d links at once.", MaxBatch))
	}
	out := make([]Result, len(ps))
	var pending []int // items to store, as indices of ps
	type alias struct {
		domain int64
		code   Code
	}
	aliases := make(map[alias]bool)
	// Most batches name one domain, or none: whether the owner may use it
	// is asked once.
	type domainAnswer struct {
		id  int64
		err error
	}
	type domainAsk struct {
		host  string
		user  int64
		admin bool
	}
	domains := make(map[domainAsk]domainAnswer)
	for i, p := range ps {
		l, err := s.prepare(ctx, p)
		if err == nil {
			ask := domainAsk{p.Domain, p.Owner.UserID, p.Owner.Admin}
			da, seen := domains[ask]
			if !seen {
				da.id, da.err = s.domainFor(ctx, p.Domain, p.Owner)
				domains[ask] = da
			}
			l.Domain, err = da.id, da.err
		}
		if err == nil && p.Alias != "" {
			if err = ValidateAlias(p.Alias, s.reserved); err == nil {
				k := alias{l.Domain, p.Alias}
				if aliases[k] {
					err = ErrCodeTaken
				}
				aliases[k] = true
				l.Code = p.Alias
			}
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i].Link = l
		pending = append(pending, i)
	}
	if len(pending) == 0 {
		return out, nil
	}
	if s.loader != nil {
		links := make([]Link, len(pending))
		for j, i := range pending {
			links[j] = out[i].Link
		}
		err := s.loader.Load(ctx, links)
		switch {
		case err == nil:
			for j, i := range pending {
				out[i].Link = links[j]
				s.announce(links[j])
			}
			return out, nil
		case !errors.Is(err, ErrCodeTaken):
			return nil, fmt.Errorf("create batch: %w", err)
		}
		// Some alias is taken: find which, one at a time.
	}
	for _, i := range pending {
		l, err := s.insert(ctx, out[i].Link)
		switch {
		case err == nil:
			out[i].Link = l
			s.announce(l)
		case errors.Is(err, ErrCodeTaken):
			out[i] = Result{Err: err}
		default:
			return nil, fmt.Errorf("create batch: %w", err)
		}
	}
	return out, nil
}

func (s *Service) announce(l Link) {
	if s.created != nil {
		s.created(l)
	}
}
