package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

const kuttList = "/api/v2/links?limit=2&skip="

func kuttPeer(t *testing.T) *fakePeer {
	p := newFakePeer(t, "X-Api-Key", "kutt-key")
	for _, skip := range []int{0, 2, 4} {
		p.on(fmt.Sprint(kuttList, skip), reply{file: fmt.Sprintf("kutt/links-skip-%d.json", skip)})
	}
	return p
}

func openKutt(p *fakePeer, key, resume string) (Source, error) {
	return OpenKutt(context.Background(), KuttOptions{URL: p.url, APIKey: key, PageSize: 2, Resume: resume, HTTP: fastRetries})
}

var kuttWant = []Record{
	{Ref: "https://kutt.it/launch", Code: "launch", URL: "https://example.com/launch", Title: "Launch announcement",
		CreatedAt: at("2024-11-20T10:00:00Z"), ExpiresAt: at("2025-01-01T00:00:00Z"), Clicks: 310},
	{Ref: "https://go.example.com/team", Code: "team", Domain: "go.example.com", URL: "https://example.com/team",
		CreatedAt: at("2024-11-19T09:30:15.25Z")},
	{Ref: "https://kutt.it/secret", Code: "secret", URL: "https://example.com/secret", Title: "Behind a password",
		CreatedAt: at("2024-10-01T08:00:00Z"), Clicks: 3, Unsupported: []string{"password"}},
	{Ref: "https://kutt.it/spam", Code: "spam", URL: "https://spam.example/", CreatedAt: at("2024-09-01T08:00:00Z"),
		ExpiresAt: at("2024-12-31T23:59:59Z"), Clicks: 17, Disabled: true},
}

func TestKutt(t *testing.T) {
	p := kuttPeer(t)
	src, err := openKutt(p, "kutt-key", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Progress().Total; got != 5 {
		t.Errorf("Total = %d, want Kutt's 5", got)
	}
	d := drain(t, src)
	if err := sameRecords(d.recs, kuttWant, false); err != nil {
		t.Fatal(err)
	}
	if len(d.bad) != 1 || d.bad[0].Ref != "https://kutt.it/empty" {
		t.Fatalf("row errors %v, want the link without a target", d.bad)
	}
	errContains(t, d.bad[0], "target is empty")
	if got := src.Progress().Read; got != 5 {
		t.Errorf("Read = %d, want 5", got)
	}
}

func TestKuttResume(t *testing.T) {
	p := kuttPeer(t)
	checkResume(t, func(resume string) (Source, error) { return openKutt(p, "kutt-key", resume) })
}

// TestKuttShift has a link created between two pages: every link moves one
// place down, and the one that crosses into the next page is not read twice.
func TestKuttShift(t *testing.T) {
	p := kuttPeer(t)
	p.on(kuttList+"2", reply{file: "kutt/links-skip-2-shifted.json"})
	p.on(kuttList+"4", reply{file: "kutt/links-skip-4-shifted.json"})
	src, err := openKutt(p, "kutt-key", "")
	if err != nil {
		t.Fatal(err)
	}
	d := drain(t, src)
	if err := sameRecords(d.recs, kuttWant, false); err != nil {
		t.Fatal(err)
	}
	if len(d.bad) != 1 {
		t.Errorf("row errors %v", d.bad)
	}
}

func TestKuttErrors(t *testing.T) {
	for _, tt := range []struct {
		status int
		file   string
		auth   bool
		msg    string
	}{
		{http.StatusUnauthorized, "kutt/error-401.json", true, "Unauthorized."},
		{http.StatusForbidden, "kutt/error-403.json", true, "banned"},
		{http.StatusTooManyRequests, "kutt/error-429.json", false, "Too many requests"},
		{http.StatusInternalServerError, "kutt/error-500.json", false, "An error occurred."},
	} {
		p := newFakePeer(t, "X-Api-Key", "kutt-key")
		p.on(kuttList+"0", reply{status: tt.status, file: tt.file, header: map[string]string{"Retry-After": "1"}})
		_, err := openKutt(p, "kutt-key", "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != tt.status || errors.Is(err, ErrUnauthorized) != tt.auth {
			t.Errorf("%d: %v", tt.status, err)
			continue
		}
		errContains(t, err, tt.msg)
		tries := 1
		if !tt.auth {
			tries = 1 + fastRetries.Retries
		}
		if n := p.count(kuttList + "0"); n != tries {
			t.Errorf("%d: %d requests, want %d", tt.status, n, tries)
		}
		if ae.RateLimited != (tt.status == http.StatusTooManyRequests) {
			t.Errorf("%d: RateLimited = %v", tt.status, ae.RateLimited)
		}
	}
}

func TestKuttRateLimitMidway(t *testing.T) {
	p := kuttPeer(t)
	p.on(kuttList+"2",
		reply{status: http.StatusTooManyRequests, file: "kutt/error-429.json", header: map[string]string{"Retry-After": "60"}},
		reply{file: "kutt/links-skip-2.json"})
	src, err := openKutt(p, "kutt-key", "")
	if err != nil {
		t.Fatal(err)
	}
	d := drain(t, src)
	if err := sameRecords(d.recs, kuttWant, false); err != nil {
		t.Fatal(err)
	}
	if n := p.count(kuttList + "2"); n != 2 {
		t.Errorf("the rate-limited page was requested %d times, want 2", n)
	}
}

func TestKuttCancel(t *testing.T) {
	p := kuttPeer(t)
	src, err := openKutt(p, "kutt-key", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(cancelled()); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a cancelled context: %v", err)
	}
}
