package shortcode_test

import (
	"context"
	"crypto/aes"
	"sync"
	"testing"

	"github.com/shortlinks/shortlinks/internal/shortcode"
)

var benchKey = []byte("0123456789abcdef0123456789abcdef")

// BenchmarkEncode is the cost of one generated code: ten Feistel rounds of
// AES, cycle-walked into the code space, written in base62.
func BenchmarkEncode(b *testing.B) {
	p, err := shortcode.NewPermutation(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var id uint64
	for b.Loop() {
		if _, err := p.Encode(id); err != nil {
			b.Fatal(err)
		}
		id++
	}
}

// BenchmarkAESBlock is the baseline for BenchmarkEncode: one bare AES block
// encryption with the same key. Encode does ten of these per walk of the
// cycle, about 1.25 walks on average.
func BenchmarkAESBlock(b *testing.B) {
	c, err := aes.NewCipher(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	var buf [aes.BlockSize]byte
	for b.Loop() {
		buf[0]++
		c.Encrypt(buf[:], buf[:])
	}
}

func BenchmarkDecode(b *testing.B) {
	p, _ := shortcode.NewPermutation(benchKey)
	codes := make([]string, 1024)
	for i := range codes {
		codes[i], _ = p.Encode(uint64(i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := p.Decode(codes[i%len(codes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// memCounter is an id counter in memory, to time the Generator alone.
type memCounter struct {
	mu   sync.Mutex
	next uint64
}

func (c *memCounter) ReserveIDs(_ context.Context, n uint64) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.next
	c.next += n
	return first, nil
}

// BenchmarkGeneratorNext is Encode plus the Generator's lock and its block
// reservations, as the create path pays it.
func BenchmarkGeneratorNext(b *testing.B) {
	p, _ := shortcode.NewPermutation(benchKey)
	g := shortcode.NewGenerator(p, &memCounter{}, shortcode.DefaultBlock)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
