package analytics

import (
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
)

// ring is a bounded multi-producer, single-consumer queue split into shards.
// Each shard is a ring of slots in the manner of Dmitry Vyukov's bounded
// queue: a producer claims a position with one compare-and-swap on its
// shard's tail, writes the slot in place and publishes it by storing the
// slot's sequence number; the consumer reads a slot once its sequence says
// it is written. Nothing waits: a producer that finds its shard full tries
// one other shard and then gives up, and the caller counts a drop.
//
// Producers pick a shard at random (the runtime's per-thread generator, no
// shared state), so with several times more shards than Ps two requests
// rarely touch the same tail. A per-P shard would avoid even that, but Go
// does not expose the P, and a goroutine can move between Ps mid-write.
type ring[T any] struct {
	shards []shard[T]
	mask   uint32 // len(shards)-1
}

type shard[T any] struct {
	tail    atomic.Uint64 // next position to claim, written by producers
	_       [56]byte      // keep producers' and consumer's lines apart
	head    atomic.Uint64 // next position to read, written by the consumer
	dropped atomic.Uint64 // producers that found the ring full (rare)
	_       [48]byte
	slots   []slot[T]
	size    uint64
	smask   uint64
}

type slot[T any] struct {
	seq atomic.Uint64 // pos when free for position pos; pos+1 once written
	v   T
}

// newRing returns a ring holding about capacity values in nshards shards;
// both are rounded up to powers of two.
func newRing[T any](capacity, nshards int) *ring[T] {
	nshards = pow2(max(nshards, 1))
	per := pow2(max((capacity+nshards-1)/nshards, 2))
	r := &ring[T]{shards: make([]shard[T], nshards), mask: uint32(nshards - 1)}
	for i := range r.shards {
		s := &r.shards[i]
		s.slots = make([]slot[T], per)
		s.size = uint64(per)
		s.smask = uint64(per - 1)
		for j := range s.slots {
			s.slots[j].seq.Store(uint64(j))
		}
	}
	return r
}

func pow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// reserve claims a slot for the caller to write; it returns nil when the
// shard it tried and one neighbour are both full. The caller must write
// the slot's value and then call commit.
func (r *ring[T]) reserve() (*slot[T], uint64) {
	i := rand.Uint32() & r.mask
	if s, pos := r.shards[i].reserve(); s != nil {
		return s, pos
	}
	if s, pos := r.shards[(i+1)&r.mask].reserve(); s != nil {
		return s, pos
	}
	r.shards[i].dropped.Add(1)
	return nil, 0
}

func (s *shard[T]) reserve() (*slot[T], uint64) {
	pos := s.tail.Load()
	for {
		sl := &s.slots[pos&s.smask]
		seq := sl.seq.Load()
		switch d := int64(seq - pos); {
		case d == 0:
			if s.tail.CompareAndSwap(pos, pos+1) {
				return sl, pos
			}
			pos = s.tail.Load()
		case d < 0:
			return nil, 0 // the consumer has not freed this slot yet: full
		default:
			pos = s.tail.Load() // another producer took pos
		}
	}
}

// commit publishes a slot written after reserve.
func commit[T any](sl *slot[T], pos uint64) { sl.seq.Store(pos + 1) }

// drain passes each written value, shard by shard, to f, until f returns
// false or the ring is empty, and frees the slots. Only one goroutine may
// drain. It returns how many values it passed.
func (r *ring[T]) drain(f func(*T) bool) int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		head := s.head.Load()
		for {
			sl := &s.slots[head&s.smask]
			if sl.seq.Load() != head+1 {
				break // empty, or a producer is still writing this slot
			}
			more := f(&sl.v)
			sl.seq.Store(head + s.size)
			head++
			n++
			if !more {
				s.head.Store(head)
				return n
			}
		}
		s.head.Store(head)
	}
	return n
}

// stats reports how many values were ever put, are waiting, and were
// dropped. It reads counters only and may run at any time.
func (r *ring[T]) stats() (put, waiting, dropped uint64) {
	for i := range r.shards {
		s := &r.shards[i]
		h, t := s.head.Load(), s.tail.Load()
		put += t
		if t > h {
			waiting += t - h
		}
		dropped += s.dropped.Load()
	}
	return put, waiting, dropped
}
