// Package analytics counts visits to short links without slowing the
// redirect path down.
//
// The redirect handler hands a Click to a Recorder, which copies it into a
// bounded, lock-free buffer and returns: no allocation, no lock shared with
// other connections, nothing that can block. The Recorder's Run loop drains
// the buffer in batches off the request goroutine and gives them to a
// Publisher: in one process, a Processor that enriches, aggregates and
// writes them to a Sink; with several instances, a transport such as Redis
// Streams (package redisstream) that a worker reads from and feeds to its
// own Processor. Enrichment (User-Agent, GeoIP country, referrer host,
// address anonymization) and aggregation into rollups happen there, never
// on the request goroutine. docs/analytics.md explains the design.
package analytics

import (
	"net/netip"
	"strings"
	"time"
)

// Kind says what a visit was: a redirect to a link, or one of the orphan
// visits that operators watch for broken and guessed links.
type Kind uint8

// The kinds of visit. The values are part of the batch encoding and of the
// stored orphan counts: append, never renumber.
const (
	Redirect         Kind = iota // a link was followed
	OrphanUnknown                // a code no link has
	OrphanDisabled               // a link that exists but is switched off
	OrphanExpired                // a link past its expiry
	OrphanBareDomain             // the domain's root, with no code
	OrphanOther                  // any other 404
	numKinds
)

var kindNames = [numKinds]string{"redirect", "unknown_code", "disabled", "expired", "bare_domain", "not_found"}

// String returns the kind's stable name, as stored and reported.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "invalid"
}

// Orphan reports whether k is an orphan visit rather than a redirect.
func (k Kind) Orphan() bool { return k != Redirect }

// Bounds of what a Click keeps of the request's headers; longer values are
// cut. 184 bytes of User-Agent hold the browser, OS, device and bot tokens
// of every User-Agent in our test corpus but in-app browsers' trailing
// device details (Googlebot's smartphone crawler puts its name at byte
// 162; Edge's token ends at 129, so 128 would count Edge as Chrome). Of
// the Referer only the host is ever used, so a Click keeps it up to the
// end of its authority (scheme, userinfo, host, port and the character
// after them), which MaxReferer bounds.
const (
	MaxUserAgent = 184
	MaxReferer   = 64
	MaxLanguage  = 16
)

// A Click is what the redirect path knows about one visit. The handler
// fills it from the request and passes it by value; the strings are copied
// into the Recorder's buffer, never retained.
type Click struct {
	Kind   Kind
	LinkID int64  // the link visited; 0 for an orphan visit with no link
	Domain uint32 // the domain the request was for; 0 is the default domain
	// At is when the request arrived; the zero time means now. The HTTP
	// edge already reads the clock for its latency metric and can pass
	// that reading.
	At time.Time
	// Addr is the client's address, after trusted proxies. It is
	// anonymized before anything is stored.
	Addr           netip.Addr
	UserAgent      string // the User-Agent header
	Referer        string // the Referer header
	AcceptLanguage string // the Accept-Language header; "" when absent
	// NoTrack is set when the request carried DNT: 1 or Sec-GPC: 1. Whether
	// it is honoured is the Processor's setting, so the edge stays free of
	// it.
	NoTrack bool
}

// Flags are bits carried by an Event.
type Flags uint8

// The flag bits. Part of the batch encoding: append, never renumber.
const (
	FlagNoTrack          Flags = 1 << iota // DNT: 1 or Sec-GPC: 1
	FlagUATruncated                        // the User-Agent was longer than MaxUserAgent
	FlagRefererTruncated                   // the Referer was longer than MaxReferer
	knownFlags           = FlagNoTrack | FlagUATruncated | FlagRefererTruncated
)

// slotEvent is a Click as the buffer holds it: fixed size and free of
// pointers, so a buffer of thousands of them is never scanned by the
// garbage collector and keeps no request's header strings alive. Its
// fields are written in place by the producer (see Recorder.Record). With
// the ring's sequence number it is 320 bytes, five cache lines; the
// header fields and the short strings come first, so that a click with a
// typical User-Agent of about 110 bytes writes four of them.
type slotEvent struct {
	at      int64 // unix nanoseconds
	link    int64
	addr    [16]byte // IPv4 as IPv4-mapped IPv6; all zero when unknown
	domain  uint32
	kind    Kind
	flags   Flags
	uaLen   uint8
	refLen  uint8
	langLen uint8
	lang    [MaxLanguage]byte
	ref     [MaxReferer]byte
	ua      [MaxUserAgent]byte
}

// fill copies c into e, with at as its time, cutting the headers to their
// bounds.
func (e *slotEvent) fill(c *Click, at int64) {
	e.at = at
	e.link = c.LinkID
	e.domain = c.Domain
	e.kind = c.Kind
	e.flags = 0
	if c.NoTrack {
		e.flags |= FlagNoTrack
	}
	if c.Addr.IsValid() {
		e.addr = c.Addr.As16()
	} else {
		e.addr = [16]byte{}
	}
	n := copy(e.ua[:], c.UserAgent)
	e.uaLen = uint8(n)
	if n < len(c.UserAgent) {
		e.flags |= FlagUATruncated
	}
	ref := refererAuthority(c.Referer)
	n = copy(e.ref[:], ref)
	e.refLen = uint8(n)
	if n < len(ref) {
		e.flags |= FlagRefererTruncated
	}
	e.langLen = uint8(copy(e.lang[:], c.AcceptLanguage))
}

// refererAuthority is ref up to and including the first "/", "?" or "#"
// after its "://": all that RefererHost reads, which gives the same host
// for it as for the whole of ref. A ref without "://" is kept whole (it
// names no host either way). This is a cut, not a parse: two searches of
// the bytes.
func refererAuthority(ref string) string {
	if i := strings.Index(ref, "://"); i >= 0 {
		if j := strings.IndexAny(ref[i+3:], "/?#"); j >= 0 {
			return ref[:i+3+j+1]
		}
	}
	return ref
}
