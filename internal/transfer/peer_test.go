package transfer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// reply is one recorded answer of a peer.
type reply struct {
	status int               // 0 means 200
	header map[string]string // extra headers, such as Retry-After
	file   string            // the body, from testdata/
}

// fakePeer serves recorded answers. Each route is a request path and
// query; each request to it takes the next of its replies, and the last
// reply stays for any further request. A request to no route is a test
// failure and a 404.
type fakePeer struct {
	t      *testing.T
	url    string
	header string // the header that must carry the credentials
	secret string // and its value

	mu     sync.Mutex
	routes map[string][]reply
	seen   []string
}

func newFakePeer(t *testing.T, header, secret string) *fakePeer {
	p := &fakePeer{t: t, header: header, secret: secret, routes: map[string][]reply{}}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// routeKey canonicalises a path and query so that parameter order does
// not matter.
func routeKey(pathQuery string) string {
	path, query, _ := strings.Cut(pathQuery, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	return path + "?" + q.Encode()
}

// on sets the replies for a route, replacing any before.
func (p *fakePeer) on(pathQuery string, replies ...reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.routes[routeKey(pathQuery)] = replies
}

func (p *fakePeer) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// count is how many requests went to a route.
func (p *fakePeer) count(pathQuery string) int {
	n := 0
	for _, s := range p.requests() {
		if s == routeKey(pathQuery) {
			n++
		}
	}
	return n
}

func (p *fakePeer) serve(w http.ResponseWriter, r *http.Request) {
	key := routeKey(r.URL.RequestURI())
	p.mu.Lock()
	p.seen = append(p.seen, key)
	replies, ok := p.routes[key]
	var rep reply
	if ok {
		rep = replies[0]
		if len(replies) > 1 {
			p.routes[key] = replies[1:]
		}
	}
	p.mu.Unlock()
	if !ok {
		p.t.Errorf("unexpected request %s", key)
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet || r.Header.Get(p.header) != p.secret {
		p.t.Errorf("%s %s: %s is %q, want %q", r.Method, key, p.header, r.Header.Get(p.header), p.secret)
	}
	body, err := os.ReadFile(filepath.Join("testdata", rep.file))
	if err != nil {
		p.t.Errorf("%s: %v", key, err)
	}
	ct := "application/json"
	if strings.Contains(rep.file, "shlink/error") {
		ct = "application/problem+json"
	}
	w.Header().Set("Content-Type", ct)
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.status != 0 {
		w.WriteHeader(rep.status)
	}
	w.Write(body)
}

// fastRetries keeps the tests quick: waits of a millisecond, whatever
// Retry-After says.
var fastRetries = HTTP{Retries: 3, MinWait: time.Millisecond, MaxWait: time.Millisecond}

// checkResume cuts a full read after every possible number of results,
// resumes a new source from the token and checks that the two halves make
// up the full read, with no result lost or repeated.
func checkResume(t *testing.T, open func(resume string) (Source, error)) {
	t.Helper()
	src, err := open("")
	if err != nil {
		t.Fatal(err)
	}
	full := drain(t, src)
	if got, want := src.Progress().Read, src.Progress().Total; want >= 0 && got != want {
		t.Errorf("after a full read Read = %d, Total = %d", got, want)
	}
	for cut := 1; cut <= len(full.order); cut++ {
		first, err := open("")
		if err != nil {
			t.Fatal(err)
		}
		head, err := drainErr(first, cut)
		if err != nil {
			t.Fatal(err)
		}
		tok := first.Progress().Resume
		second, err := open(tok)
		if err != nil {
			t.Fatalf("cut %d: resume from %q: %v", cut, tok, err)
		}
		tail := drain(t, second)
		got := append(append([]string(nil), head.order...), tail.order...)
		if fmt.Sprint(got) != fmt.Sprint(full.order) {
			t.Errorf("cut %d, token %q:\n got  %v\n want %v", cut, tok, got, full.order)
		}
		if err := sameRecords(append(head.recs, tail.recs...), full.recs, false); err != nil {
			t.Errorf("cut %d: %v", cut, err)
		}
		if a, b := second.Progress().Read, src.Progress().Read; a != b {
			t.Errorf("cut %d: Read = %d after resuming, %d in one go", cut, a, b)
		}
	}
}

// cancelled is a context that has already ended.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
