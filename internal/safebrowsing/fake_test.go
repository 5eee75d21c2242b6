package safebrowsing_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

const testKey = "AIzaTestKey-0123456789_abcdefghijklmnop"

// fakeAPI is a Lookup API endpoint that follows the published v4 request
// and response JSON. It checks every request it gets against the format and
// fails the test on anything else.
type fakeAPI struct {
	t       *testing.T
	srv     *httptest.Server
	threats map[string][]string // URL → threat types it is listed under

	mu       sync.Mutex
	requests [][]string // the URLs of each request
	fail     []int      // statuses to answer with before answering properly
	block    chan struct{}
}

func newFakeAPI(t *testing.T, threats map[string][]string) *fakeAPI {
	f := &fakeAPI{t: t, threats: threats}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) endpoint() string { return f.srv.URL + "/v4/threatMatches:find" }

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v4/threatMatches:find" || r.URL.Query().Get("key") != testKey ||
		r.Header.Get("Content-Type") != "application/json" {
		f.t.Errorf("request %s %s (Content-Type %q) is not threatMatches:find with the key", r.Method, r.URL, r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var req struct {
		Client struct {
			ClientID      string `json:"clientId"`
			ClientVersion string `json:"clientVersion"`
		} `json:"client"`
		ThreatInfo struct {
			ThreatTypes      []string `json:"threatTypes"`
			PlatformTypes    []string `json:"platformTypes"`
			ThreatEntryTypes []string `json:"threatEntryTypes"`
			ThreatEntries    []struct {
				URL string `json:"url"`
			} `json:"threatEntries"`
		} `json:"threatInfo"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		f.t.Errorf("request body: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	ti := req.ThreatInfo
	if req.Client.ClientID == "" || req.Client.ClientVersion == "" ||
		!slices.Equal(ti.ThreatTypes, []string{"MALWARE", "SOCIAL_ENGINEERING", "UNWANTED_SOFTWARE", "POTENTIALLY_HARMFUL_APPLICATION"}) ||
		!slices.Equal(ti.PlatformTypes, []string{"ANY_PLATFORM"}) || !slices.Equal(ti.ThreatEntryTypes, []string{"URL"}) ||
		len(ti.ThreatEntries) == 0 || len(ti.ThreatEntries) > 500 {
		f.t.Errorf("request %+v does not follow the v4 format", req)
	}
	var urls []string
	for _, e := range ti.ThreatEntries {
		urls = append(urls, e.URL)
	}
	f.mu.Lock()
	f.requests = append(f.requests, urls)
	var status int
	if len(f.fail) > 0 {
		status, f.fail = f.fail[0], f.fail[1:]
	}
	f.mu.Unlock()
	if f.block != nil {
		select {
		case <-f.block:
		case <-r.Context().Done():
			return
		}
	}

	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error": {"code": %d, "message": "API key not valid. Please pass a valid API key. (%s)", "status": "INVALID_ARGUMENT"}}`, status, testKey)
		return
	}
	type match struct {
		ThreatType      string            `json:"threatType"`
		PlatformType    string            `json:"platformType"`
		ThreatEntryType string            `json:"threatEntryType"`
		Threat          map[string]string `json:"threat"`
		CacheDuration   string            `json:"cacheDuration"`
	}
	var matches []match
	for _, u := range urls {
		for _, tt := range f.threats[u] {
			matches = append(matches, match{tt, "ANY_PLATFORM", "URL", map[string]string{"url": u}, "300s"})
		}
	}
	if len(matches) == 0 {
		w.Write([]byte("{}\n")) // the API's answer when nothing matches
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"matches": matches})
}

func (f *fakeAPI) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeAPI) requestsCopy() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}
