package routes_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/routes"
)

// callerStore is a link.Store that notes which functions called its Get,
// out to net/http. In the service, the cache sits where it does.
type callerStore struct{ callers []string }

func (s *callerStore) Insert(context.Context, link.Link) (int64, error) { return 1, nil }
func (s *callerStore) Delete(context.Context, link.Code) error          { return nil }

func (s *callerStore) Get(_ context.Context, c link.Code) (link.Link, error) {
	pc := make([]uintptr, 64)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	s.callers = nil
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "net/http.") {
			break
		}
		s.callers = append(s.callers, f.Function)
		if !more {
			break
		}
	}
	return link.Link{Code: c, URL: "https://example.com/"}, nil
}

// TestRedirectHops checks how short the busiest path is: between net/http
// and the store under the link service (the cache, in the service), a
// redirect passes four functions of ours: the edge, the route table, the
// redirect handler and the service.
func TestRedirectHops(t *testing.T) {
	store := &callerStore{}
	log := slog.New(slog.DiscardHandler)
	api := httpapi.New(link.NewService(store, nil, nil, link.Options{}), nil, log, httpapi.Options{})
	e := edge.New(log, edge.Options{SampledRoute: routes.RedirectRoute})
	srv := httptest.NewServer(e.Wrap(routes.New(api, log, routes.Options{ClientIP: e.ClientIP})))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := client.Get(srv.URL + "/abcdefg")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /abcdefg = %d, want 302", resp.StatusCode)
	}
	want := []string{
		"github.com/shortlinks/shortlinks/internal/link.(*Service).ResolveOn",
		"github.com/shortlinks/shortlinks/internal/httpapi.(*Server).Redirect",
		"github.com/shortlinks/shortlinks/internal/routes.(*Table).ServeHTTP",
		"github.com/shortlinks/shortlinks/internal/edge.(*handler).ServeHTTP",
	}
	if strings.Join(store.callers, "\n") != strings.Join(want, "\n") {
		t.Errorf("a redirect reaches the store through\n\t%s\nwant\n\t%s",
			strings.Join(store.callers, "\n\t"), strings.Join(want, "\n\t"))
	}
}
