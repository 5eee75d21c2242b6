package app_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app/apptest"
)

// TestRandomMethodsOverSockets sends 10,000 requests with made-up methods
// (200-byte HTTP tokens, as a client may send them) over raw sockets, on
// keep-alive connections, to the whole server running in this process.
// Each is answered, and the server's heap grows by less than 4 MiB: no
// per-request state keyed on the method outlives its request. (Keyed on
// the raw method, as the metrics once were, 8,000 such requests took the
// process from 39 to 496 MiB.)
func TestRandomMethodsOverSockets(t *testing.T) {
	base := apptest.Serve(t)
	addr := strings.TrimPrefix(base, "http://")
	const tokenChars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	rng := rand.New(rand.NewPCG(3, 4))
	method := func() string {
		b := make([]byte, 200)
		for i := range b {
			b[i] = tokenChars[rng.IntN(len(tokenChars))]
		}
		return string(b)
	}
	send := func(n int) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		r := bufio.NewReader(conn)
		for i := range n {
			if _, err := fmt.Fprintf(conn, "%s /healthz HTTP/1.1\r\nHost: x\r\n\r\n", method()); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("request %d: status %d, want 405", i, resp.StatusCode)
			}
		}
	}
	send(100) // warm up: connections, pools and the folded series exist
	before := heapInUse()
	for range 10 {
		send(1000)
	}
	after := heapInUse()
	if grown := int64(after) - int64(before); grown > 4<<20 {
		t.Errorf("10,000 made-up methods grew the heap by %.1f MiB, want under 4 MiB", float64(grown)/(1<<20))
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
