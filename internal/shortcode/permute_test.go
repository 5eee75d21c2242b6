package shortcode_test

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

func mustPerm(t testing.TB, seed byte) *shortcode.Permutation {
	t.Helper()
	p, err := shortcode.NewPermutation(bytes.Repeat([]byte{seed}, shortcode.KeyLength))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpace(t *testing.T) {
	if shortcode.Space != 3521614606208 {
		t.Fatalf("Space = %d, want 62^7 = 3521614606208", shortcode.Space)
	}
}

func TestEncodeIsBijectiveOnARange(t *testing.T) {
	p := mustPerm(t, 1)
	seen := make(map[string]uint64, 200_000)
	for id := uint64(0); id < 200_000; id++ {
		c, err := p.Encode(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != shortcode.Length {
			t.Fatalf("Encode(%d) = %q: length %d", id, c, len(c))
		}
		if prev, dup := seen[c]; dup {
			t.Fatalf("Encode(%d) = Encode(%d) = %q", id, prev, c)
		}
		seen[c] = id
		back, err := p.Decode(c)
		if err != nil || back != id {
			t.Fatalf("Decode(Encode(%d)) = %d, %v", id, back, err)
		}
	}
}

func TestEncodeEdges(t *testing.T) {
	p := mustPerm(t, 2)
	for _, id := range []uint64{0, 1, shortcode.Space - 2, shortcode.Space - 1} {
		c, err := p.Encode(id)
		if err != nil {
			t.Fatalf("Encode(%d): %v", id, err)
		}
		if back, err := p.Decode(c); err != nil || back != id {
			t.Fatalf("round trip of %d via %q gave %d, %v", id, c, back, err)
		}
	}
	if _, err := p.Encode(shortcode.Space); err == nil {
		t.Fatal("Encode(Space) succeeded")
	}
	for _, bad := range []string{"", "abcdef", "abcdefgh", "abc-efg", "abcdéf"} {
		if _, err := p.Decode(bad); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

// TestNotSequential checks that neighbouring ids give unrelated codes: on
// average about 6 of 7 characters differ (1 - 1/62 each), and no two
// neighbours share a long prefix the way counters in base62 do.
func TestNotSequential(t *testing.T) {
	p := mustPerm(t, 3)
	const n = 10_000
	diff, samePrefix := 0, 0
	prev, _ := p.Encode(0)
	for id := uint64(1); id <= n; id++ {
		c, _ := p.Encode(id)
		for i := range c {
			if c[i] != prev[i] {
				diff++
			}
		}
		if c[:4] == prev[:4] {
			samePrefix++
		}
		prev = c
	}
	if avg := float64(diff) / n; avg < 6.5 {
		t.Fatalf("consecutive codes differ in %.2f of 7 characters on average, want about 6.9", avg)
	}
	if samePrefix > 5 {
		t.Fatalf("%d of %d consecutive codes share a 4-character prefix", samePrefix, n)
	}
}

func TestKeyChangesCodes(t *testing.T) {
	a, b := mustPerm(t, 4), mustPerm(t, 5)
	same := 0
	for id := uint64(0); id < 1000; id++ {
		ca, _ := a.Encode(id)
		cb, _ := b.Encode(id)
		if ca == cb {
			same++
		}
	}
	if same > 1 {
		t.Fatalf("%d of 1000 codes equal under two keys", same)
	}
}

func TestParseKey(t *testing.T) {
	k, err := shortcode.ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	if err != nil || len(k) != 32 || k[31] != 0x1f {
		t.Fatalf("ParseKey = %x, %v", k, err)
	}
	for _, bad := range []string{"", "00", "zz02030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"} {
		if _, err := shortcode.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	if shortcode.Fingerprint(k) == shortcode.Fingerprint(bytes.Repeat([]byte{1}, 32)) {
		t.Fatal("different keys share a fingerprint")
	}
}

// FuzzPermutation checks the round trip and that distinct ids never share a
// code, for any key.
func FuzzPermutation(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), uint64(0), uint64(1))
	f.Add(bytes.Repeat([]byte{0xff}, 32), shortcode.Space-1, uint64(12345))
	f.Fuzz(func(t *testing.T, key []byte, a, b uint64) {
		if len(key) != shortcode.KeyLength {
			return
		}
		p, err := shortcode.NewPermutation(key)
		if err != nil {
			t.Fatal(err)
		}
		a, b = a%shortcode.Space, b%shortcode.Space
		ca, err := p.Encode(a)
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := p.Encode(b)
		if (a == b) != (ca == cb) {
			t.Fatalf("ids %d, %d gave codes %q, %q", a, b, ca, cb)
		}
		if back, err := p.Decode(ca); err != nil || back != a {
			t.Fatalf("Decode(Encode(%d)) = %d, %v", a, back, err)
		}
	})
}

func TestGeneratorUniqueAcrossInstancesAndRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "links.db")
	p := mustPerm(t, 6)
	seen := map[string]bool{}
	var mu sync.Mutex
	run := func(db *sqlite.DB, n int) {
		// Two generators on one counter stand for two instances.
		g1 := shortcode.NewGenerator(p, db, 7)
		g2 := shortcode.NewGenerator(p, db, 7)
		var wg sync.WaitGroup
		for _, g := range []*shortcode.Generator{g1, g2, g1, g2} {
			wg.Go(func() {
				for range n {
					c, err := g.Next(t.Context())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seen[string(c)] {
						t.Errorf("code %s issued twice", c)
					}
					seen[string(c)] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	db := sqlitetest.OpenFile(t, path)
	run(db, 100)
	db.Close()
	db = sqlitetest.OpenFile(t, path) // a restart: unused ids of the last blocks are skipped, never reused
	run(db, 100)
	if len(seen) != 800 {
		t.Fatalf("%d distinct codes, want 800", len(seen))
	}
}
