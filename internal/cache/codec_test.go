package cache

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

var sample = link.Link{
	ID:        918273645,
	Code:      "aB3dE9x",
	URL:       "https://docs.example.com/guides/getting-started?utm_source=newsletter&utm_medium=email",
	CreatedAt: time.Date(2026, 11, 20, 9, 30, 15, 123456000, time.UTC),
	ExpiresAt: time.Date(2027, 11, 20, 9, 30, 15, 0, time.UTC),
	Owner:     4211,
}

var withOptions = link.Link{
	ID: 5, Code: "opts", URL: "https://example.com/", CreatedAt: sample.CreatedAt, ExpiresAt: sample.ExpiresAt,
	Owner: 4, UserID: 9, Title: "t", Tags: []string{"a"}, DisabledAt: sample.CreatedAt.Add(time.Hour), DisabledReason: "r",
	ValidFrom: sample.CreatedAt.Add(time.Minute), MaxVisits: 10, PasswordHash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$a2V5",
	ForwardQuery: true, Rules: []link.Rule{{When: link.Condition{Device: "ios", Country: "DE"}, URL: "https://apps.example/"}},
}

// TestCodecPlainSize checks that a plain link costs one byte more than it
// did before links had options: the flags.
func TestCodecPlainSize(t *testing.T) {
	before := 1 + len(binary.AppendVarint(nil, sample.ID)) + len(binary.AppendVarint(nil, sample.CreatedAt.UnixMicro())) +
		len(binary.AppendVarint(nil, sample.ExpiresAt.UnixMicro())) + len(binary.AppendVarint(nil, sample.Owner)) + len(sample.URL)
	if got := len(encode(sample)); got != before+1 {
		t.Fatalf("a plain link encodes to %d bytes, want %d", got, before+1)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, l := range []link.Link{
		sample,
		{ID: 1, Code: "abc", URL: "http://x.example/", CreatedAt: time.UnixMicro(1).UTC()},
		{Code: "old", URL: "https://a.example/ü", CreatedAt: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), Owner: -1},
		withOptions,
		{ID: 2, Code: "fq", URL: "https://fq.example/", CreatedAt: sample.CreatedAt, ForwardQuery: true},
		{ID: 3, Code: "usr", URL: "https://u.example/", CreatedAt: sample.CreatedAt, UserID: 77},
	} {
		e, err := decode(l.Code, encode(l))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", l, err)
		}
		// What only managers read is not cached.
		l.Title, l.Tags, l.DisabledReason = "", nil, ""
		if got := e.toLink(l.Code); e.missing || !reflect.DeepEqual(got, l) {
			t.Errorf("round trip of %+v gave %+v", l, e)
		}
	}
	for _, v := range [][]byte{missingValue, deletedValue} {
		if e, err := decode("abc", v); err != nil || !e.missing {
			t.Errorf("decode(%v) = %+v, %v; want missing", v, e, err)
		}
	}
	// Tag 1 is the earliest form, without an id, and tag 4 the form before
	// options: unreadable, so looked up again. So is a flag from a later
	// format, and options cut short.
	tag4 := append([]byte{4}, encode(sample)[2:]...)
	for _, v := range [][]byte{nil, {0}, {9, 1, 2}, {tagLink}, {tagLink, 0}, {tagLink, 0, 0x80}, {1, 2, 0, 0, 'x'}, tag4,
		{tagLink, 0x80, 2, 4, 6, 8}, {tagLink, flagPassword, 2, 4, 6, 8, 50, 'x'}, {tagLink, flagRules, 2, 4, 6, 8, 2, '[', 'x'}} {
		if _, err := decode("abc", v); err == nil {
			t.Errorf("decode(%v) succeeded; want an error", v)
		}
	}
}

// BenchmarkCodec compares the Redis encoding with JSON of the same link.
func BenchmarkCodec(b *testing.B) {
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			if _, err := decode(sample.Code, encode(sample)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(encode(sample))), "bytes")
	})
	b.Run("options", func(b *testing.B) {
		for b.Loop() {
			if _, err := decode(withOptions.Code, encode(withOptions)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(encode(withOptions))), "bytes")
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			raw, err := json.Marshal(sample)
			if err != nil {
				b.Fatal(err)
			}
			var l link.Link
			if err := json.Unmarshal(raw, &l); err != nil {
				b.Fatal(err)
			}
		}
		raw, _ := json.Marshal(sample)
		b.ReportMetric(float64(len(raw)), "bytes")
	})
}

// FuzzCodec checks that decode never panics on what it finds in Redis, and
// that whatever encode writes reads back the same.
func FuzzCodec(f *testing.F) {
	f.Add([]byte{tagLink, 2, 4, 6, 'h', 't', 't', 'p'}, "https://example.com/", int64(1764000000000000), int64(0), int64(7))
	f.Add([]byte{tagMissing}, "", int64(0), int64(1), int64(0))
	f.Add([]byte{tagLink, 0xff, 0xff}, "x", int64(-1), int64(-5), int64(-9))
	f.Add(encode(withOptions), "https://example.com/", int64(1764000000000000), int64(0), int64(7))
	f.Fuzz(func(t *testing.T, raw []byte, url string, created, expires, owner int64) {
		decode("fuzz", raw) // must not panic
		l := link.Link{Code: "fuzz", URL: url, CreatedAt: time.UnixMicro(created).UTC(), Owner: owner}
		if expires != 0 {
			l.ExpiresAt = time.UnixMicro(expires).UTC()
		}
		e, err := decode("fuzz", encode(l))
		if err != nil || e.missing || !reflect.DeepEqual(e.toLink("fuzz"), l) {
			t.Fatalf("round trip of %+v = %+v, %v", l, e.toLink("fuzz"), err)
		}
	})
}
