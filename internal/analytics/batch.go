package analytics

import (
	"fmt"
	"net/netip"
)

// BatchID names a batch for ever: the producer that made it (a random
// number each Recorder draws when it starts) and its sequence number there.
// Sinks record the ids of the batches they have applied, in the same
// transaction as the counts, and skip a batch they have seen: that is what
// makes redelivery, retries and two workers at once count each click once.
type BatchID struct {
	Producer uint64
	Seq      uint64
}

func (id BatchID) String() string { return fmt.Sprintf("%016x/%d", id.Producer, id.Seq) }

// A Batch is a run of visits drained from one Recorder. Header strings are
// held once each in Strings and referred to by index, since a batch repeats
// a few User-Agents and referrers many times.
type Batch struct {
	ID      BatchID
	Strings []string // Strings[0] is always ""
	Events  []Event
}

// An Event is one visit in a Batch. It holds no pointers.
type Event struct {
	At       int64    // unix nanoseconds
	LinkID   int64    // 0 for an orphan visit with no link
	Addr     [16]byte // the client's address, IPv4-mapped for IPv4; zero when unknown
	Domain   uint32
	UA       uint32 // index of the User-Agent in Batch.Strings
	Referer  uint32 // index of the Referer (cut to MaxReferer bytes)
	Language uint32 // index of the Accept-Language (cut to MaxLanguage bytes)
	Kind     Kind
	Flags    Flags
}

// Address returns the event's client address, unmapped, or the zero Addr.
func (e *Event) Address() netip.Addr {
	if e.Addr == ([16]byte{}) {
		return netip.Addr{}
	}
	return netip.AddrFrom16(e.Addr).Unmap()
}

// builder turns drained slot events into a Batch, interning header strings.
type builder struct {
	index map[string]uint32
	b     *Batch
}

func newBuilder() *builder { return &builder{index: make(map[string]uint32)} }

func (bb *builder) start(id BatchID, capacity int) {
	clear(bb.index)
	bb.b = &Batch{ID: id, Strings: []string{""}, Events: make([]Event, 0, capacity)}
}

func (bb *builder) intern(p []byte) uint32 {
	if len(p) == 0 {
		return 0
	}
	if i, ok := bb.index[string(p)]; ok { // no allocation on a hit
		return i
	}
	s := string(p)
	i := uint32(len(bb.b.Strings))
	bb.b.Strings = append(bb.b.Strings, s)
	bb.index[s] = i
	return i
}

func (bb *builder) add(e *slotEvent) {
	bb.b.Events = append(bb.b.Events, Event{
		At:       e.at,
		LinkID:   e.link,
		Addr:     e.addr,
		Domain:   e.domain,
		UA:       bb.intern(e.ua[:e.uaLen]),
		Referer:  bb.intern(e.ref[:e.refLen]),
		Language: bb.intern(e.lang[:e.langLen]),
		Kind:     e.kind,
		Flags:    e.flags,
	})
}
