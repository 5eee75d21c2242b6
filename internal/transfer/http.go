package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTP holds what the API sources share: the client, and how patiently to
// retry a request the peer could not answer now.
type HTTP struct {
	Client *http.Client // nil: a client with a one-minute timeout

	// Retries is how many times a request is tried again after a 429, a
	// 500, 502, 503 or 504, or a network error. 0 means 5; -1 means never.
	Retries int
	// MinWait is the first wait between tries, doubled after each one;
	// 0 means 1s. A Retry-After from the peer takes its place.
	MinWait time.Duration
	// MaxWait caps every wait, Retry-After included; 0 means 1 minute.
	MaxWait time.Duration
}

// maxBody bounds what is read of one response, so that a broken or hostile
// peer cannot make an import hold more than a page in memory.
const maxBody = 32 << 20

// APIError is an answer from a peer's API that is not a success: its status
// and the peer's own error code and explanation, as its error body gives
// them.
type APIError struct {
	Peer    string // "shlink", "kutt" or "bitly"
	Method  string
	Path    string // the request path, with no credentials
	Status  int
	Code    string // the peer's error code: Shlink's problem type, Bitly's message
	Message string // the peer's explanation, if it sent one
	// RateLimited is set when the peer asked to slow down (a 429, or
	// Bitly's 403 with X-Ratelimit-Reason) and the retries ran out.
	RateLimited bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s: %d %s", e.Peer, e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrUnauthorized) true for a 401 or 403.
func (e *APIError) Is(target error) bool {
	return target == ErrUnauthorized && !e.RateLimited &&
		(e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// api calls one peer's JSON API.
type api struct {
	peer   string
	base   *url.URL
	header http.Header
	opt    HTTP
	// failure reads a peer's error body into an *APIError, and says
	// whether the answer means "slow down" even though its status is not
	// 429 (Bitly answers some rate limits with a 403).
	failure func(status int, h http.Header, body []byte) (e *APIError, limited bool)
}

func newAPI(peer, rawBase string, header http.Header, opt HTTP, failure func(int, http.Header, []byte) (*APIError, bool)) (*api, error) {
	if rawBase == "" {
		return nil, fmt.Errorf("%s: the URL of the server is missing", peer)
	}
	u, err := url.Parse(strings.TrimRight(rawBase, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http or https URL", peer, rawBase)
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: time.Minute}
	}
	// The client follows redirects with every header, the API key
	// included, so it must not follow one to another host.
	c := *opt.Client
	if c.CheckRedirect == nil {
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("%w to %s: the API key would go with it", errRedirect, req.URL.Host)
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
	}
	opt.Client = &c
	switch {
	case opt.Retries == 0:
		opt.Retries = 5
	case opt.Retries < 0:
		opt.Retries = 0
	}
	if opt.MinWait <= 0 {
		opt.MinWait = time.Second
	}
	if opt.MaxWait <= 0 {
		opt.MaxWait = time.Minute
	}
	header.Set("Accept", "application/json")
	header.Set("User-Agent", "Shortlinks-import")
	return &api{peer: peer, base: u, header: header, opt: opt, failure: failure}, nil
}

// get fetches path (with its query) under the base URL and decodes the
// JSON answer into v, retrying as a.opt says. The error of a failed answer
// is an *APIError.
func (a *api) get(ctx context.Context, path string, v any) error {
	u := a.base.String() + path
	var last error
	for attempt := 0; ; attempt++ {
		wait, err := a.try(ctx, u, path, v)
		if err == nil {
			return nil
		}
		if wait < 0 || ctx.Err() != nil {
			return err
		}
		last = err
		if attempt >= a.opt.Retries {
			return fmt.Errorf("gave up after %d tries: %w", attempt+1, last)
		}
		if wait == 0 {
			wait = a.opt.MinWait << attempt
		}
		wait = min(wait, a.opt.MaxWait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// try makes one request. On failure it returns how long to wait before
// the next try: -1 for a failure that trying again will not mend, 0 to use
// the backoff, more to follow the peer's Retry-After.
func (a *api) try(ctx context.Context, u, path string, v any) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return -1, err
	}
	req.Header = a.header.Clone()
	resp, err := a.opt.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		wait := time.Duration(0)
		if errors.Is(err, errRedirect) {
			wait = -1
		}
		return wait, fmt.Errorf("%s: GET %s: %w", a.peer, pathOnly(path), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: GET %s: read the answer: %w", a.peer, pathOnly(path), err)
	case len(body) > maxBody:
		return -1, fmt.Errorf("%s: GET %s: the answer is larger than %d bytes", a.peer, pathOnly(path), maxBody)
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(body, v); err != nil {
			return -1, fmt.Errorf("%s: GET %s: the answer is not the JSON the API documents: %w", a.peer, pathOnly(path), err)
		}
		return 0, nil
	}
	e, limited := a.failure(resp.StatusCode, resp.Header, body)
	e.Peer, e.Method, e.Path, e.Status = a.peer, http.MethodGet, pathOnly(path), resp.StatusCode
	e.RateLimited = limited || resp.StatusCode == http.StatusTooManyRequests
	retry := e.RateLimited
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		retry = true
	}
	if !retry {
		return -1, e
	}
	return retryAfter(resp.Header.Get("Retry-After"), time.Now()), e
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date,
// and returns 0 when there is none or it cannot be read.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// pathOnly drops the query from a request path, for error messages.
func pathOnly(p string) string {
	path, _, _ := strings.Cut(p, "?")
	return path
}

// items is a page of a peer's list whose entries are decoded one by one, so
// that a malformed entry is a row error and not a failed page.
type items []json.RawMessage

// errorText returns a short, printable excerpt of a body that is not the
// JSON a peer documents for errors (a proxy's HTML page, say).
func errorText(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// jsonError decodes a peer's error body into dst, reporting whether it was
// JSON at all.
func jsonError(body []byte, dst any) bool {
	return len(body) > 0 && json.Unmarshal(body, dst) == nil
}

var (
	errNoCredentials = errors.New("the API key is missing")
	errRedirect      = errors.New("not following a redirect")
)
