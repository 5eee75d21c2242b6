package httpapi

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

	"github.com/shortlinks/shortlinks/internal/edge"
)

// Client calls a Shortlinks server's API.
type Client struct {
	base string
	key  string
	http *http.Client
}

// NewClient returns a Client for the server at base (like
// http://localhost:8080), sending key as its bearer token when not empty.
// hc nil means http.DefaultClient.
func NewClient(base, key string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(base, "/"), key: key, http: hc}
}

// APIError is an error answer from the server.
type APIError struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// Create makes a link.
func (c *Client) Create(ctx context.Context, req CreateRequest) (LinkJSON, error) {
	var l LinkJSON
	err := c.do(ctx, http.MethodPost, "/api/v1/links", req, http.StatusCreated, &l)
	return l, err
}

// Get returns a link's details.
func (c *Client) Get(ctx context.Context, code string) (LinkJSON, error) {
	return c.GetOn(ctx, "", code)
}

// GetOn returns the details of the link with code on the short domain
// host; "" is the default domain.
func (c *Client) GetOn(ctx context.Context, host, code string) (LinkJSON, error) {
	var l LinkJSON
	err := c.do(ctx, http.MethodGet, linkPath(host, code, ""), nil, http.StatusOK, &l)
	return l, err
}

// Delete deletes a link.
func (c *Client) Delete(ctx context.Context, code string) error { return c.DeleteOn(ctx, "", code) }

// DeleteOn deletes the link with code on the short domain host; "" is the
// default domain.
func (c *Client) DeleteOn(ctx context.Context, host, code string) error {
	return c.do(ctx, http.MethodDelete, linkPath(host, code, ""), nil, http.StatusNoContent, nil)
}

// linkPath is the API path of the link with code on the short domain host
// ("": the default domain), then rest ("" or "/stats", say): the code is
// escaped in the path, the host in the query.
func linkPath(host, code, rest string) string {
	p := "/api/v1/links/" + url.PathEscape(code) + rest
	if host != "" {
		p += "?domain=" + url.QueryEscape(host)
	}
	return p
}

// List returns a page of links, newest first; cursor empty means the first
// page and limit zero the server's default size.
func (c *Client) List(ctx context.Context, cursor string, limit int) (LinkList, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/v1/links"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out LinkList
	err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK, &out)
	return out, err
}

// Patch is a JSON merge patch of a link for Update: a key with a nil value
// clears that field, a key left out leaves it alone.
type Patch map[string]any

// Update edits a link with a JSON merge patch and returns it as stored.
func (c *Client) Update(ctx context.Context, code string, p Patch) (LinkJSON, error) {
	return c.UpdateOn(ctx, "", code, p)
}

// UpdateOn is Update for the link with code on the short domain host; ""
// is the default domain.
func (c *Client) UpdateOn(ctx context.Context, host, code string, p Patch) (LinkJSON, error) {
	var l LinkJSON
	err := c.send(ctx, http.MethodPatch, linkPath(host, code, ""), "application/merge-patch+json", p, http.StatusOK, &l)
	return l, err
}

// Bulk creates up to 1,000 links and returns one result per item, in order.
func (c *Client) Bulk(ctx context.Context, links []CreateRequest) (BulkResponse, error) {
	var out BulkResponse
	err := c.do(ctx, http.MethodPost, "/api/v1/links/bulk", BulkRequest{Links: links}, http.StatusOK, &out)
	return out, err
}

// Tags returns the tags on the key's links, with how many links carry each.
func (c *Client) Tags(ctx context.Context) (TagList, error) {
	var out TagList
	err := c.do(ctx, http.MethodGet, "/api/v1/tags", nil, http.StatusOK, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, in any, want int, out any) error {
	return c.send(ctx, method, path, "application/json", in, want, out)
}

func (c *Client) send(ctx context.Context, method, path, contentType string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var eb edge.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Field: eb.Error.Field}
		}
		return &APIError{Status: resp.StatusCode, Code: "unexpected_response", Message: fmt.Sprintf("the server answered %s", resp.Status)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}
