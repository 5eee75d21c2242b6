// Package safebrowsing asks Google Safe Browsing (the v4 Lookup API) whether
// destination URLs are known malware, phishing or unwanted software. A
// Checker does it off the request path: creates hand it URLs and return at
// once, and it calls back with verdicts, so that a slow or failing lookup
// never delays a create or a redirect.
//
// The Lookup API is for non-commercial use; commercial services use Google's
// Web Risk API instead. The API sees every URL that is checked.
package safebrowsing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Lookup API's threatMatches:find method.
const DefaultEndpoint = "https://safebrowsing.googleapis.com/v4/threatMatches:find"

// MaxURLsPerRequest is the most URLs one request may carry.
const MaxURLsPerRequest = 500

// ThreatType is a Safe Browsing list.
type ThreatType string

// The threat types a Client asks about.
const (
	Malware                       ThreatType = "MALWARE"
	SocialEngineering             ThreatType = "SOCIAL_ENGINEERING"
	UnwantedSoftware              ThreatType = "UNWANTED_SOFTWARE"
	PotentiallyHarmfulApplication ThreatType = "POTENTIALLY_HARMFUL_APPLICATION"
)

// ThreatTypes are the lists a Client asks about.
func ThreatTypes() []ThreatType {
	return []ThreatType{Malware, SocialEngineering, UnwantedSoftware, PotentiallyHarmfulApplication}
}

// Threat is one match for a URL.
type Threat struct {
	Type     ThreatType
	Platform string
	// CacheFor is how long the match may be remembered.
	CacheFor time.Duration
}

// ClientOptions configure a Client.
type ClientOptions struct {
	Endpoint      string       // DefaultEndpoint when empty
	HTTP          *http.Client // one with a 10-second timeout when nil
	ClientID      string       // "shortlinks" when empty
	ClientVersion string       // "1" when empty
}

// Client calls the Lookup API with an API key.
type Client struct {
	key      string
	endpoint string
	http     *http.Client
	client   clientInfo
}

// NewClient returns a Client that authenticates with key.
func NewClient(key string, opts ClientOptions) *Client {
	c := &Client{key: key, endpoint: opts.Endpoint, http: opts.HTTP, client: clientInfo{ClientID: opts.ClientID, ClientVersion: opts.ClientVersion}}
	if c.endpoint == "" {
		c.endpoint = DefaultEndpoint
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 10 * time.Second}
	}
	if c.client.ClientID == "" {
		c.client.ClientID = "shortlinks"
	}
	if c.client.ClientVersion == "" {
		c.client.ClientVersion = "1"
	}
	return c
}

// The request and response bodies of threatMatches:find.
type (
	findRequest struct {
		Client     clientInfo `json:"client"`
		ThreatInfo threatInfo `json:"threatInfo"`
	}
	clientInfo struct {
		ClientID      string `json:"clientId"`
		ClientVersion string `json:"clientVersion"`
	}
	threatInfo struct {
		ThreatTypes      []ThreatType  `json:"threatTypes"`
		PlatformTypes    []string      `json:"platformTypes"`
		ThreatEntryTypes []string      `json:"threatEntryTypes"`
		ThreatEntries    []threatEntry `json:"threatEntries"`
	}
	threatEntry struct {
		URL string `json:"url"`
	}
	findResponse struct {
		Matches []threatMatch `json:"matches"`
	}
	threatMatch struct {
		ThreatType      ThreatType  `json:"threatType"`
		PlatformType    string      `json:"platformType"`
		ThreatEntryType string      `json:"threatEntryType"`
		Threat          threatEntry `json:"threat"`
		CacheDuration   string      `json:"cacheDuration"`
	}
	errorResponse struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
)

// APIError is a response other than 200 from the API.
type APIError struct {
	StatusCode int
	Status     string // the API's status, such as "INVALID_ARGUMENT"
	Message    string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("safe browsing: HTTP %d", e.StatusCode)
	if e.Status != "" {
		msg += " " + e.Status
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Temporary reports whether trying again later may succeed: rate limiting
// and server errors, not a bad key or request.
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Find looks up at most MaxURLsPerRequest URLs and returns the threats found
// for each URL that matched, keyed by the URL as given. URLs with no entry
// are safe as far as Safe Browsing knows. Errors never contain the API key.
func (c *Client) Find(ctx context.Context, urls []string) (map[string][]Threat, error) {
	if len(urls) == 0 {
		return nil, nil
	}
	if len(urls) > MaxURLsPerRequest {
		return nil, fmt.Errorf("safe browsing: %d URLs in one request, at most %d", len(urls), MaxURLsPerRequest)
	}
	req := findRequest{Client: c.client, ThreatInfo: threatInfo{
		ThreatTypes:      ThreatTypes(),
		PlatformTypes:    []string{"ANY_PLATFORM"},
		ThreatEntryTypes: []string{"URL"},
		ThreatEntries:    make([]threatEntry, len(urls)),
	}}
	for i, u := range urls {
		req.ThreatInfo.ThreatEntries[i] = threatEntry{URL: u}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("safe browsing: %w", err)
	}
	endpoint := c.endpoint + "?key=" + url.QueryEscape(c.key)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("safe browsing: %s", c.redact(err.Error()))
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(hreq)
	if err != nil {
		// *url.Error quotes the request URL, key and all.
		return nil, fmt.Errorf("safe browsing: %s", c.redact(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("safe browsing: read response: %s", c.redact(err.Error()))
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := &APIError{StatusCode: resp.StatusCode}
		var e errorResponse
		if json.Unmarshal(data, &e) == nil {
			apiErr.Status, apiErr.Message = e.Error.Status, c.redact(e.Error.Message)
		}
		return nil, apiErr
	}
	var fr findResponse
	if err := json.Unmarshal(data, &fr); err != nil {
		return nil, fmt.Errorf("safe browsing: decode response: %w", err)
	}
	out := make(map[string][]Threat)
	for _, m := range fr.Matches {
		out[m.Threat.URL] = append(out[m.Threat.URL], Threat{Type: m.ThreatType, Platform: m.PlatformType, CacheFor: parseDuration(m.CacheDuration)})
	}
	return out, nil
}

func (c *Client) redact(s string) string {
	if c.key == "" {
		return s
	}
	s = strings.ReplaceAll(s, url.QueryEscape(c.key), "REDACTED")
	return strings.ReplaceAll(s, c.key, "REDACTED")
}

// parseDuration reads a protobuf Duration in JSON ("300s", "1.5s"); zero
// when it is missing or malformed.
func parseDuration(s string) time.Duration {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64)
	if err != nil || v < 0 || !strings.HasSuffix(s, "s") {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}
