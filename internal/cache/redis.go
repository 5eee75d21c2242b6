package cache

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/link"
)

// How the Redis tier keeps in step with the other instances.
const (
	// maxPending bounds the creates and deletes kept while Redis is down,
	// to be written and announced when it is back.
	maxPending = 100_000
	// retryEvery is how often pending writes are tried again.
	retryEvery = time.Second
	// idleCheck is how long the subscription may be quiet before it is
	// pinged, and pongWait how long the ping may take before the
	// connection is taken for dead and replaced.
	idleCheck = time.Second
	pongWait  = 2 * time.Second
	// maxBackoff caps the wait between attempts to resubscribe.
	maxBackoff = time.Second
)

// setLive writes a value unless the code is marked deleted, so that a
// create can replace a remembered miss but can never revive a deleted link,
// whatever order the writes of two instances arrive in.
var setLive = `
local v = redis.call('GET', KEYS[1])
if v and string.byte(v, 1) == ` + strconv.Itoa(int(tagDeleted)) + ` then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`

func (s *Store) key(c link.Code) string { return s.prefix + string(c) }

// fromRedis reads c from Redis. It returns redis.Nil if Redis does not
// hold c (or holds a value it cannot read), and any other error if Redis
// could not answer. The client bounds the GET (see Options.Redis): a
// deadline of our own would cost a timer on every miss in process.
func (s *Store) fromRedis(ctx context.Context, c link.Code) (entry, error) {
	b, err := s.rdb.Get(ctx, s.key(c)).Bytes()
	if err != nil {
		return entry{}, err
	}
	e, err := decode(c, b)
	if err != nil {
		return entry{}, redis.Nil
	}
	e.from = fromRedis
	return e, nil
}

// fill writes what the next store said about c to Redis, unless Redis
// already holds something for c: a concurrent create, or a delete, wins
// over what this lookup read.
func (s *Store) fill(ctx context.Context, c link.Code, e entry, budget time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if e.missing {
		s.rdb.SetNX(ctx, s.key(c), missingValue, s.negTTL)
		return
	}
	s.rdb.SetNX(ctx, s.key(c), encode(e.toLink(c)), s.bound(e.expires, s.redisTTL))
}

// A change is a create, an edit or a delete to be written to Redis and
// announced.
type change struct {
	link link.Link // only the Code, but for created
	kind kind
}

// kind is what happened to a code. A later kind outranks an earlier one
// for the same code: a created code can only be deleted after, and a
// forgotten one can still be created.
type kind int

const (
	// forgotten: a delete found no link. Some tier may still remember
	// one (the delete that removed it could not reach Redis), but the
	// code may also never have been used: remember it as missing, not
	// deleted, so that it can still be created.
	forgotten kind = iota + 1
	created
	edited // written for TTL only: see the package comment
	deleted
)

// announce writes ch to Redis and publishes its code, so that every other
// instance drops the code from its in-process tier. If Redis cannot take it
// now, ch waits for Redis to come back.
func (s *Store) announce(ctx context.Context, ch change) {
	if s.rdb == nil {
		return
	}
	// The request may end now; the other instances still need to hear.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	if err := s.apply(ctx, ch); err != nil {
		if !s.pending.add(ch) {
			s.m.pendingDropped.Inc()
		}
	}
}

func (s *Store) apply(ctx context.Context, ch change) error {
	key := s.key(ch.link.Code)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		switch ch.kind {
		case deleted:
			p.Set(ctx, key, deletedValue, s.redisTTL)
		case created:
			ttl := max(s.bound(ch.link.ExpiresAt, s.redisTTL), time.Millisecond)
			p.Eval(ctx, setLive, []string{key}, encode(ch.link), ttl.Milliseconds())
		case edited:
			ttl := max(s.bound(ch.link.ExpiresAt, min(s.ttl, s.redisTTL)), time.Millisecond)
			p.Eval(ctx, setLive, []string{key}, encode(ch.link), ttl.Milliseconds())
		case forgotten:
			p.Eval(ctx, setLive, []string{key}, missingValue, s.negTTL.Milliseconds())
		}
		p.Publish(ctx, s.channel, s.origin+":"+string(ch.link.Code))
		return nil
	})
	return err
}

// retry writes pending changes while Redis takes them, until ctx ends.
func (s *Store) retry(ctx context.Context) {
	t := time.NewTicker(retryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		batch := s.pending.take(256)
		for i, ch := range batch {
			actx, cancel := context.WithTimeout(ctx, s.timeout)
			err := s.apply(actx, ch)
			cancel()
			if err == nil {
				continue
			}
			// Still down: keep the rest, and stop trying until next time.
			for _, ch := range batch[i:] {
				if !s.pending.add(ch) {
					s.m.pendingDropped.Inc()
				}
			}
			break
		}
	}
}

// listen subscribes to the invalidation channel and drops each code that
// another instance announces from the in-process tier, until ctx ends. The
// client reconnects and resubscribes after Redis comes back; since
// messages sent meanwhile are lost, every confirmed subscription empties the
// in-process tier.
func (s *Store) listen(ctx context.Context) {
	ps := s.rdb.Subscribe(ctx, s.channel)
	defer ps.Close()
	// Closing ends a receive that is waiting.
	context.AfterFunc(ctx, func() { ps.Close() })

	awaitingPong := false
	failures := 0
	for {
		var msg any
		var err error
		if awaitingPong {
			// A dead connection can stay quiet forever; a missing pong
			// ends it, and the next receive reconnects and resubscribes.
			rctx, cancel := context.WithTimeout(ctx, pongWait)
			msg, err = ps.Receive(rctx)
			cancel()
		} else {
			msg, err = ps.ReceiveTimeout(ctx, idleCheck)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !awaitingPong && isTimeout(err) {
				awaitingPong = ps.Ping(ctx) == nil
				continue
			}
			awaitingPong = false
			if s.subscribed.Swap(false) {
				s.log.Warn("invalidation channel lost; reconnecting", "err", err)
			}
			failures++
			sleep(ctx, min(maxBackoff, time.Duration(failures)*100*time.Millisecond))
			continue
		}
		awaitingPong, failures = false, 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			s.local.InvalidateAll()
			if s.domainsChanged != nil {
				s.domainsChanged()
			}
			if s.everSubscribed.Swap(true) {
				s.m.flushes.Inc()
				s.log.Info("invalidation channel back; emptied the in-process cache")
			}
			s.subscribed.Store(true)
		case *redis.Message:
			origin, code, ok := strings.Cut(m.Payload, ":")
			switch {
			case !ok || origin == s.origin:
			case code == domainsNews:
				if s.domainsChanged != nil {
					s.domainsChanged()
				}
			default:
				s.local.Invalidate(link.Code(code))
			}
		}
	}
}

// domainsNews is the message that says the short domains changed, on the
// channel that carries the codes to drop: no code or domain key has a "+".
const domainsNews = "+domains"

// AnnounceDomains tells the other instances that a short domain was added
// or removed here, so that they read the domains again at once (see
// Options.DomainsChanged) rather than at their next periodic reload,
// which remains the fallback if Redis cannot take the message now.
// Without a Redis tier it does nothing.
func (s *Store) AnnounceDomains(ctx context.Context) {
	if s.rdb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	if err := s.rdb.Publish(ctx, s.channel, s.origin+":"+domainsNews).Err(); err != nil {
		s.log.Warn("could not announce a change of domains; other instances reload them on their own", "err", err)
	}
}

// Subscribed reports whether this Store currently hears other instances'
// invalidations. Without a Redis tier there is nothing to hear: true.
func (s *Store) Subscribed() bool { return s.rdb == nil || s.subscribed.Load() }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// pending holds changes that Redis could not take, one per code: the
// latest kind.
type pending struct {
	mu  sync.Mutex
	m   map[link.Code]change
	max int
}

func newPending(max int) *pending { return &pending{m: make(map[link.Code]change), max: max} }

// add keeps ch; it reports false if ch had to be dropped because too many
// are waiting.
func (p *pending) add(ch change) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, ok := p.m[ch.link.Code]
	switch {
	case ok && old.kind > ch.kind:
	case ok || len(p.m) < p.max:
		p.m[ch.link.Code] = ch
	default:
		return false
	}
	return true
}

// take removes and returns up to n changes.
func (p *pending) take(n int) []change {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]change, 0, min(n, len(p.m)))
	for c, ch := range p.m {
		if len(out) == n {
			break
		}
		out = append(out, ch)
		delete(p.m, c)
	}
	return out
}

func (p *pending) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}
