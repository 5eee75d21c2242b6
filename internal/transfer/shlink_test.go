package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

const shlinkList = "/rest/v3/short-urls?itemsPerPage=2&orderBy=dateCreated-ASC&page="

// shlinkPeer serves the three recorded pages of short URLs.
func shlinkPeer(t *testing.T) *fakePeer {
	p := newFakePeer(t, "X-Api-Key", "key-1")
	for i := 1; i <= 3; i++ {
		p.on(fmt.Sprint(shlinkList, i), reply{file: fmt.Sprintf("shlink/short-urls-page-%d.json", i)})
	}
	return p
}

func openShlink(p *fakePeer, key, resume string) (Source, error) {
	return OpenShlink(context.Background(), ShlinkOptions{URL: p.url + "/", APIKey: key, PageSize: 2, Resume: resume, HTTP: fastRetries})
}

func TestShlink(t *testing.T) {
	p := shlinkPeer(t)
	src, err := openShlink(p, "key-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Progress(); got.Total != 5 || got.Read != 0 || got.Resume != "" {
		t.Errorf("Progress before reading = %+v, want Total 5, nothing read", got)
	}
	d := drain(t, src)
	want := []Record{
		{Ref: "https://s.test/12C18", Code: "12C18", URL: "https://store.steampowered.com", Title: "Welcome to Steam",
			Tags: []string{"games", "tech"}, CreatedAt: mustTime(t, "2016-08-21T18:34:16Z"),
			ValidSince: mustTime(t, "2017-01-20T22:00:00Z"), MaxVisits: 100, ForwardQuery: ptr(true), Clicks: 328},
		{Ref: "https://s.test/12Kb3", Code: "12Kb3", URL: "https://shlink.io", Tags: []string{"shlink"},
			CreatedAt: mustTime(t, "2016-05-01T18:34:16Z"), ExpiresAt: mustTime(t, "2030-01-01T00:00:00Z"),
			ForwardQuery: ptr(true), Clicks: 1029},
		{Ref: "https://example.com/123bA", Code: "123bA", Domain: "example.com", URL: "https://www.google.com",
			CreatedAt: mustTime(t, "2015-10-01T18:34:16Z"), ValidSince: mustTime(t, "2017-01-20T22:00:00Z"),
			ForwardQuery: ptr(false), Clicks: 25, Unsupported: []string{"redirect rules", "crawlable"}},
		{Ref: "https://s.test/legacy", Code: "legacy", URL: "https://example.com/desktop", Title: "Before visitsSummary",
			Tags: []string{"old"}, CreatedAt: mustTime(t, "2023-02-01T10:00:00Z"), ForwardQuery: ptr(true), Clicks: 42,
			Unsupported: []string{"device long URLs"}},
	}
	if err := sameRecords(d.recs, want, false); err != nil {
		t.Fatal(err)
	}
	if len(d.bad) != 1 || d.bad[0].Ref != "https://s.test/broken" {
		t.Fatalf("row errors %v, want one for broken", d.bad)
	}
	errContains(t, d.bad[0], "dateCreated", "yesterday")
	if got := src.Progress(); got.Read != 5 || got.Total != 5 {
		t.Errorf("Progress at the end = %+v", got)
	}
	if n := len(p.requests()); n != 3 {
		t.Errorf("%d requests for 3 pages: %v", n, p.requests())
	}
}

func TestShlinkResume(t *testing.T) {
	p := shlinkPeer(t)
	checkResume(t, func(resume string) (Source, error) { return openShlink(p, "key-1", resume) })
}

func TestShlinkAuth(t *testing.T) {
	for _, tt := range []struct{ file, code, detail string }{
		{"shlink/error-invalid-api-key.json", "invalid-api-key", "does not exist or is invalid"},
		{"shlink/error-missing-authentication.json", "missing-authentication", "none were provided"},
	} {
		p := newFakePeer(t, "X-Api-Key", "wrong")
		p.on(shlinkList+"1", reply{status: http.StatusUnauthorized, file: tt.file})
		_, err := openShlink(p, "wrong", "")
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("%s: %v, want ErrUnauthorized", tt.file, err)
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != tt.code || ae.Status != 401 || !strings.Contains(ae.Message, tt.detail) {
			t.Errorf("%s: %#v", tt.file, ae)
		}
		if p.count(shlinkList+"1") != 1 {
			t.Errorf("%s: a refused key was tried %d times", tt.file, p.count(shlinkList+"1"))
		}
	}
	if _, err := OpenShlink(context.Background(), ShlinkOptions{URL: "https://s.test"}); err == nil {
		t.Error("no API key: no error")
	}
	if _, err := OpenShlink(context.Background(), ShlinkOptions{URL: "ftp://s.test", APIKey: "k"}); err == nil {
		t.Error("an ftp URL: no error")
	}
}

func TestShlinkRetries(t *testing.T) {
	p := shlinkPeer(t)
	// A proxy in front of Shlink says "slow down", then Shlink has a
	// moment of trouble, then page 2 comes.
	p.on(shlinkList+"2",
		reply{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "30"}, file: "shlink/error-internal.json"},
		reply{status: http.StatusServiceUnavailable, file: "shlink/error-internal.json"},
		reply{file: "shlink/short-urls-page-2.json"})
	src, err := openShlink(p, "key-1", "")
	if err != nil {
		t.Fatal(err)
	}
	d := drain(t, src)
	if len(d.recs) != 4 || len(d.bad) != 1 {
		t.Fatalf("got %d records and %d row errors, want 4 and 1", len(d.recs), len(d.bad))
	}
	if n := p.count(shlinkList + "2"); n != 3 {
		t.Errorf("page 2 requested %d times, want 3", n)
	}
}

func TestShlinkServerErrorMidway(t *testing.T) {
	p := shlinkPeer(t)
	p.on(shlinkList+"2", reply{status: http.StatusInternalServerError, file: "shlink/error-internal.json"})
	src, err := openShlink(p, "key-1", "")
	if err != nil {
		t.Fatal(err)
	}
	head, err := drainErr(src, -1)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || errors.Is(err, ErrUnauthorized) {
		t.Fatalf("after page 1: %v, want the 500 as an *APIError", err)
	}
	errContains(t, err, "gave up after 4 tries", "Internal Server Error")
	if len(head.recs) != 2 {
		t.Fatalf("%d records before the failure, want page 1's 2", len(head.recs))
	}
	// Shlink recovers; the import resumes where it stopped.
	p.on(shlinkList+"2", reply{file: "shlink/short-urls-page-2.json"})
	again, err := openShlink(p, "key-1", src.Progress().Resume)
	if err != nil {
		t.Fatal(err)
	}
	tail := drain(t, again)
	if got := fmt.Sprint(append(head.order, tail.order...)); got != "[https://s.test/12C18 https://s.test/12Kb3 https://example.com/123bA !https://s.test/broken https://s.test/legacy]" {
		t.Errorf("records across the failure: %s", got)
	}
	if p.count(shlinkList+"1") != 1 {
		t.Errorf("page 1 fetched %d times; resuming should not fetch it again", p.count(shlinkList+"1"))
	}
}

func TestShlinkCancel(t *testing.T) {
	p := shlinkPeer(t)
	src, err := openShlink(p, "key-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(cancelled()); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a cancelled context: %v", err)
	}
	if _, err := OpenShlink(cancelled(), ShlinkOptions{URL: p.url, APIKey: "key-1", HTTP: fastRetries}); !errors.Is(err, context.Canceled) {
		t.Errorf("OpenShlink on a cancelled context: %v", err)
	}
}

func TestShlinkResumeRefuses(t *testing.T) {
	p := shlinkPeer(t)
	for _, tok := range []string{"src=kutt&read=1&skip=0&idx=0", "src=shlink&read=1&page=1&idx=9&size=2", "src=shlink&read=1&page=0&idx=0&size=2"} {
		if _, err := openShlink(p, "key-1", tok); !errors.Is(err, ErrResume) {
			t.Errorf("token %q: %v, want ErrResume", tok, err)
		}
	}
}

// TestShlinkRedirectElsewhere checks that the API key never follows a
// redirect to another host.
func TestShlinkRedirectElsewhere(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("X-Api-Key") != "")
	}))
	defer other.Close()
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer peer.Close()
	_, err := OpenShlink(context.Background(), ShlinkOptions{URL: peer.URL, APIKey: "key-1", HTTP: fastRetries})
	errContains(t, err, "not following a redirect")
	if leaked.Load() {
		t.Error("the API key was sent to another host")
	}
	if strings.Contains(err.Error(), "gave up") {
		t.Errorf("a refused redirect was retried: %v", err)
	}
}
