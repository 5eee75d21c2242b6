package password_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/password"
)

// cheap keeps the tests fast; the parameters do not change the logic.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t testing.TB, p password.Params, n int) *password.Hasher {
	t.Helper()
	h, err := password.New(p, n)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDefaultIsValid(t *testing.T) {
	h := newHasher(t, password.Default, 0)
	if p := h.Params(); p.Memory != 64*1024 || p.Time != 2 || p.Threads != 1 {
		t.Fatalf("Default = %+v, want the documented m=64 MiB, t=2, p=1", p)
	}
}

func TestHashVerify(t *testing.T) {
	h := newHasher(t, cheap, 0)
	a, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a, "$argon2id$v=19$m=64,t=1,p=1$") || a == b {
		t.Fatalf("hashes %q and %q: want PHC strings with different salts", a, b)
	}
	for _, tt := range []struct {
		secret string
		want   bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		ok, rehash, err := h.Verify(t.Context(), a, tt.secret)
		if err != nil || ok != tt.want || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, false, nil", tt.secret, ok, rehash, err, tt.want)
		}
	}
	if n := h.Hashes(); n != 6 {
		t.Errorf("Hashes() = %d after 2 hashes and 4 checks", n)
	}
}

// TestReferenceVectors checks hashes made by the reference implementation
// (the argon2 command of the Debian package argon2, from the PHC
// repository): echo -n SECRET | argon2 SALT -id -t T -k M -p P -l L -e.
func TestReferenceVectors(t *testing.T) {
	h := newHasher(t, cheap, 0)
	for _, v := range []struct{ hash, secret string }{
		{"$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ", "correct horse battery staple"},
		{"$argon2id$v=19$m=64,t=1,p=2$YW5vdGhlcnNhbHR2YWx1ZQ$lMCHukHjY90/B6M7qyjL/A", "pässwörd with ünïcode"},
	} {
		ok, rehash, err := h.Verify(t.Context(), v.hash, v.secret)
		if err != nil || !ok || !rehash {
			t.Errorf("Verify(%s) = %v, %v, %v; want a match made with other parameters", v.hash, ok, rehash, err)
		}
		if ok, _, _ := h.Verify(t.Context(), v.hash, v.secret+"x"); ok {
			t.Errorf("Verify(%s) matched a wrong secret", v.hash)
		}
	}
}

func TestRehash(t *testing.T) {
	old := newHasher(t, cheap, 0)
	stronger := cheap
	stronger.Time = 2
	cur := newHasher(t, stronger, 0)
	hash, err := old.Hash(t.Context(), "a long enough secret")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := cur.Verify(t.Context(), hash, "a long enough secret"); err != nil || !ok || !rehash {
		t.Fatalf("Verify of an older hash = %v, %v, %v; want ok and rehash", ok, rehash, err)
	}
	fresh, err := cur.Hash(t.Context(), "a long enough secret")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := cur.Verify(t.Context(), fresh, "a long enough secret"); err != nil || !ok || rehash {
		t.Fatalf("Verify of a current hash = %v, %v, %v; want ok, no rehash", ok, rehash, err)
	}
}

func TestDecoy(t *testing.T) {
	h := newHasher(t, cheap, 0)
	d := h.Decoy()
	if p, _, _, err := password.Decode(d); err != nil || p != cheap {
		t.Fatalf("Decode(Decoy()) = %+v, %v; want the hasher's parameters", p, err)
	}
	before := h.Hashes()
	if ok, rehash, err := h.Verify(t.Context(), d, ""); ok || rehash || err != nil {
		t.Fatalf("Verify(decoy) = %v, %v, %v", ok, rehash, err)
	}
	if h.Hashes() != before+1 {
		t.Fatal("checking against the decoy did not hash")
	}
}

func TestDecodeRejects(t *testing.T) {
	good := "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ"
	if _, _, _, err := password.Decode(good); err != nil {
		t.Fatalf("Decode(good) = %v", err)
	}
	for _, bad := range []string{
		"",
		"plain text",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "$v=19", "", 1),
		strings.Replace(good, "m=1024", "m=01024", 1),
		strings.Replace(good, "m=1024", "m=4294967296", 1),
		strings.Replace(good, "m=1024", "m=2097152", 1), // 2 GiB: over the bound
		strings.Replace(good, "m=1024", "m=4", 1),       // under 8 KiB per lane
		strings.Replace(good, "t=2", "t=0", 1),
		strings.Replace(good, "t=2", "t=1000", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Replace(good, "p=1", "p=256", 1),
		strings.Replace(good, "m=1024,t=2,p=1", "t=2,m=1024,p=1", 1),
		strings.Replace(good, "p=1", "p=1,k=2", 1),
		strings.Replace(good, "p=1", "p=+1", 1),
		strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdA", 1),                   // 4-byte salt
		strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdHNhbHRzYWx0c2FsdA==", 1), // padded
		strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdHNhbHRzYWx0c2FsdB", 1),   // non-zero trailing bits
		strings.TrimSuffix(good, "OQ") + "O",
		good + "$",
		good[:len(good)-43] + "c2hvcnQ", // 5-byte key
	} {
		if _, _, _, err := password.Decode(bad); !errors.Is(err, password.ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", bad, err)
		}
	}
	h := newHasher(t, cheap, 0)
	if _, _, err := h.Verify(t.Context(), "not a hash", "x"); !errors.Is(err, password.ErrMalformed) {
		t.Errorf("Verify(malformed) = %v, want ErrMalformed", err)
	}
	if h.Hashes() != 0 {
		t.Error("a malformed hash was hashed against")
	}
}

func TestNewRejects(t *testing.T) {
	for _, p := range []password.Params{
		{Memory: 0, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
		{Memory: 2 << 20, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		if _, err := password.New(p, 1); err == nil {
			t.Errorf("New(%+v) succeeded", p)
		}
	}
}

func TestCanceled(t *testing.T) {
	h := newHasher(t, cheap, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Hash(ctx, "secret"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash(canceled) = %v", err)
	}
	if h.Hashes() != 0 {
		t.Fatal("a canceled call hashed")
	}
}

// TestConcurrencyBound runs many hashes at once through a hasher with one
// slot and checks that they all finish, with the count right: the slots
// are released on every path.
func TestConcurrencyBound(t *testing.T) {
	h := newHasher(t, cheap, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := h.Hash(t.Context(), "secret"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if h.Hashes() != 16 {
		t.Fatalf("Hashes() = %d, want 16", h.Hashes())
	}
	// With the only slot taken, a call gives up when its context does.
	hold := newHasher(t, password.Params{Memory: 32 * 1024, Time: 4, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		hold.Hash(context.Background(), "slow")
	}()
	for hold.Hashes() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	_, err := hold.Hash(ctx, "waits")
	<-done
	if err == nil {
		// The slow hash may have finished first on a fast machine; then
		// the second one had a free slot, which is also right.
		if hold.Hashes() != 2 {
			t.Fatalf("second hash succeeded but Hashes() = %d", hold.Hashes())
		}
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash while the slot is taken = %v, want the context's deadline", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ")
	f.Add("$argon2id$v=19$m=64,t=1,p=2$YW5vdGhlcnNhbHR2YWx1ZQ$lMCHukHjY90/B6M7qyjL/A")
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$$")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := password.Decode(s)
		if err != nil {
			return
		}
		// Decode accepts only the canonical spelling, so what it reads
		// writes back the same.
		if got := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads,
			b64(salt), b64(key)); got != s {
			t.Fatalf("Decode(%q) reads back as %q", s, got)
		}
		if _, err := password.New(p, 1); err != nil {
			t.Fatalf("Decode(%q) accepted parameters New refuses: %v", s, err)
		}
	})
}

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

func cpuTime() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// BenchmarkHash measures one hash with the default parameters beside
// OWASP's two minimum settings and a single pass over 64 MiB. cpu-ms/op is
// the process's CPU time per hash: on a shared machine it moves less than
// the wall time does.
func BenchmarkHash(b *testing.B) {
	for _, c := range []struct {
		name string
		p    password.Params
	}{
		{"owasp-min-19MiB-t2", password.Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"owasp-min-46MiB-t1", password.Params{Memory: 46 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"64MiB-t1-p1", password.Params{Memory: 64 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"default-64MiB-t2-p1", password.Default},
		{"64MiB-t2-p2", password.Params{Memory: 64 * 1024, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := newHasher(b, c.p, 1)
			start := cpuTime()
			for b.Loop() {
				if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}
