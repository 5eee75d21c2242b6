package analytics

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func sampleBatch() *Batch {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano()
	v6 := netip.MustParseAddr("2001:db8::7").As16()
	v4 := netip.MustParseAddr("198.51.100.9").As16()
	return &Batch{
		ID:      BatchID{Producer: 0xfeedface12345678, Seq: 99},
		Strings: []string{"", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "https://example.com/", "de-DE"},
		Events: []Event{
			{At: at, LinkID: 1, Addr: v4, UA: 1, Referer: 2, Language: 3, Kind: Redirect},
			{At: at - 5000, LinkID: 1 << 40, Addr: v6, Domain: 9, UA: 1, Kind: Redirect, Flags: FlagNoTrack | FlagUATruncated},
			{At: at + 3_600_000_000_000, LinkID: 0, Kind: OrphanBareDomain},
		},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	b := sampleBatch()
	enc := Encode(nil, b)
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Errorf("Decode(Encode(b)) =\n%+v\nwant\n%+v", got, b)
	}
	if per := len(enc) / len(b.Events); per > 80 {
		t.Errorf("%d bytes an event in a 3-event batch with its strings", per)
	}
}

func TestCodecTruncatesToMicroseconds(t *testing.T) {
	b := sampleBatch()
	b.Events[0].At += 999
	got, err := Decode(Encode(nil, b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Events[0].At != b.Events[0].At-999 {
		t.Errorf("At = %d, want %d", got.Events[0].At, b.Events[0].At-999)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(nil, sampleBatch())
	cases := map[string][]byte{
		"empty":          nil,
		"bad magic":      append([]byte("XX"), good[2:]...),
		"future version": append([]byte{'S', 'L', 2}, good[3:]...),
		"cut short":      good[:len(good)-3],
		"trailing bytes": append(append([]byte{}, good...), 0),
		"huge counts":    append([]byte{'S', 'L', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0x0f),
	}
	// An event whose string index is past the table.
	b := sampleBatch()
	b.Events[0].UA = 17
	cases["string index"] = Encode(nil, b)
	b = sampleBatch()
	b.Events[0].Kind = 7
	cases["kind"] = Encode(nil, b)
	for name, p := range cases {
		if _, err := Decode(p); !errors.Is(err, ErrBadBatch) {
			t.Errorf("%s: Decode error = %v, want ErrBadBatch", name, err)
		}
	}
}

// FuzzDecode checks that no input makes Decode panic or allocate without
// bound, and that whatever it accepts encodes back to the same batch.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(nil, sampleBatch()))
	f.Add(Encode(nil, &Batch{Strings: []string{""}}))
	f.Add([]byte("SL\x01"))
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := Decode(p)
		if err != nil {
			if !errors.Is(err, ErrBadBatch) {
				t.Fatalf("error %v does not wrap ErrBadBatch", err)
			}
			return
		}
		again, err := Decode(Encode(nil, b))
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, b) {
			t.Fatalf("round trip changed the batch:\n%+v\n%+v", b, again)
		}
	})
}
