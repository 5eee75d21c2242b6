package qr

import (
	"testing"
)

// BenchmarkPNG measures what one image costs the server, at the default
// size and at the largest the API draws.
func BenchmarkPNG(b *testing.B) {
	e := New()
	for _, size := range []int{256, 1024, 2048} {
		b.Run(itoa(size), func(b *testing.B) {
			var n int
			for b.Loop() {
				img, err := e.PNG("https://sho.rt/k3T9xQa", size)
				if err != nil {
					b.Fatal(err)
				}
				n = len(img)
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
