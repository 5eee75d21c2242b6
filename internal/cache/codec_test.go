package cache

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

var sample = link.Link{
	Code:      "aB3dE9x",
	URL:       "https://docs.example.com/guides/getting-started?utm_source=newsletter&utm_medium=email",
	CreatedAt: time.Date(2026, 11, 20, 9, 30, 15, 123456000, time.UTC),
	ExpiresAt: time.Date(2027, 11, 20, 9, 30, 15, 0, time.UTC),
	Owner:     4211,
}

func TestCodecRoundTrip(t *testing.T) {
	for _, l := range []link.Link{
		sample,
		{Code: "abc", URL: "http://x.example/", CreatedAt: time.UnixMicro(1).UTC()},
		{Code: "old", URL: "https://a.example/ü", CreatedAt: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), Owner: -1},
	} {
		e, err := decode(l.Code, encode(l))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", l, err)
		}
		got := e.link
		if e.missing || got.Code != l.Code || got.URL != l.URL || !got.CreatedAt.Equal(l.CreatedAt) ||
			!got.ExpiresAt.Equal(l.ExpiresAt) || got.ExpiresAt.IsZero() != l.ExpiresAt.IsZero() || got.Owner != l.Owner {
			t.Errorf("round trip of %+v gave %+v", l, e)
		}
	}
	for _, v := range [][]byte{missingValue, deletedValue} {
		if e, err := decode("abc", v); err != nil || !e.missing {
			t.Errorf("decode(%v) = %+v, %v; want missing", v, e, err)
		}
	}
	for _, v := range [][]byte{nil, {0}, {9, 1, 2}, {tagLink}, {tagLink, 0x80}} {
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
	f.Fuzz(func(t *testing.T, raw []byte, url string, created, expires, owner int64) {
		if e, err := decode("fuzz", raw); err == nil && !e.missing && e.link.Code != "fuzz" {
			t.Fatalf("decode lost the code: %+v", e)
		}
		l := link.Link{Code: "fuzz", URL: url, CreatedAt: time.UnixMicro(created).UTC(), Owner: owner}
		if expires != 0 {
			l.ExpiresAt = time.UnixMicro(expires).UTC()
		}
		e, err := decode("fuzz", encode(l))
		if err != nil || e.missing || e.link != l {
			t.Fatalf("round trip of %+v = %+v, %v", l, e.link, err)
		}
	})
}
