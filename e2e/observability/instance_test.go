package observability

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/liveconfig"
	"github.com/shortlinks/shortlinks/internal/safebrowsing"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// serveFromFile runs an instance as 'shortlinks serve --config path' does:
// the settings are read from the YAML file at path through a
// liveconfig.Watcher, which the app runs and which reloads the file when
// it changes. It returns the base URL, the watcher, and a function that
// replaces the file, atomically, with settings and the changes given to it
// so far.
func serveFromFile(t *testing.T, path string, settings map[string]any) (string, *liveconfig.Watcher, func(map[string]any)) {
	t.Helper()
	addr := servicetest.FreeAddr(t)
	base := "http://" + addr
	settings = maps.Clone(settings)
	settings["listen"], settings["base-url"] = addr, base
	write := func(changes map[string]any) {
		maps.Copy(settings, changes)
		b, err := yaml.Marshal(settings)
		if err != nil {
			t.Fatal(err)
		}
		// Renamed into place, so that the watcher never reads half a file.
		if err := os.WriteFile(path+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	write(nil)
	env := []string{"SHORTLINKS_CONFIG=" + path}
	w := liveconfig.New(liveconfig.Options{
		Load: func(over map[string]string) (config.Config, error) { return config.LoadOver(nil, env, over) },
		File: config.File(nil, env),
	})
	cfg, err := w.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tel := app.Telemetry{Registry: telemetry.NewRegistry(telemetry.ReadBuild("v1.2.3"))}
	a, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler), tel)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Watch(w); err != nil {
		a.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := apptest.NoRedirects.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not ready within a minute", base)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return base, w, write
}

// waitFor scrapes base until ok is true of its metrics, and fails the test
// if that takes over a minute: what is waited for happens in the
// background (lookups, file checks every few seconds).
func waitFor(t *testing.T, base, what string, ok func(map[string]*dto.MetricFamily) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok(scrape(t, base)) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const lookupKey = "AIzaObservability-0123456789_abcdefghij"

// lookupAPI is a Safe Browsing v4 Lookup API endpoint (threatMatches:find)
// on a local port that knows no threats. It checks each request against
// the published request format and fails the test on anything else.
type lookupAPI struct {
	t   *testing.T
	srv *httptest.Server
	key string

	mu    sync.Mutex
	asked []string
}

func newLookupAPI(t *testing.T, key string) *lookupAPI {
	l := &lookupAPI{t: t, key: key}
	l.srv = httptest.NewServer(http.HandlerFunc(l.serve))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *lookupAPI) endpoint() string { return l.srv.URL + "/v4/threatMatches:find" }

func (l *lookupAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v4/threatMatches:find" || r.URL.Query().Get("key") != l.key ||
		r.Header.Get("Content-Type") != "application/json" {
		l.t.Errorf("request %s %s (Content-Type %q) is not threatMatches:find with the key", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error": {"code": 400, "message": "bad request", "status": "INVALID_ARGUMENT"}}`))
		return
	}
	var req struct {
		Client struct {
			ClientID      string `json:"clientId"`
			ClientVersion string `json:"clientVersion"`
		} `json:"client"`
		ThreatInfo struct {
			ThreatTypes      []safebrowsing.ThreatType `json:"threatTypes"`
			PlatformTypes    []string                  `json:"platformTypes"`
			ThreatEntryTypes []string                  `json:"threatEntryTypes"`
			ThreatEntries    []struct {
				URL string `json:"url"`
			} `json:"threatEntries"`
		} `json:"threatInfo"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		l.t.Errorf("request body: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	ti := req.ThreatInfo
	if req.Client.ClientID == "" || req.Client.ClientVersion == "" || !slices.Equal(ti.ThreatTypes, safebrowsing.ThreatTypes()) ||
		!slices.Equal(ti.PlatformTypes, []string{"ANY_PLATFORM"}) || !slices.Equal(ti.ThreatEntryTypes, []string{"URL"}) ||
		len(ti.ThreatEntries) == 0 || len(ti.ThreatEntries) > safebrowsing.MaxURLsPerRequest {
		l.t.Errorf("request %+v does not follow the v4 format", req)
	}
	l.mu.Lock()
	for _, e := range ti.ThreatEntries {
		l.asked = append(l.asked, e.URL)
	}
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}\n")) // the API's answer when nothing matches
}

// urls are the URLs asked about, in order.
func (l *lookupAPI) urls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.asked)
}
