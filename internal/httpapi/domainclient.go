package httpapi

import (
	"context"
	"net/http"
	"net/url"
)

// AddDomain adds a short domain (admin key).
func (c *Client) AddDomain(ctx context.Context, req CreateDomainRequest) (DomainJSON, error) {
	var out DomainJSON
	err := c.do(ctx, http.MethodPost, "/api/v1/domains", req, http.StatusCreated, &out)
	return out, err
}

// Domains lists the short domains, the default one first.
func (c *Client) Domains(ctx context.Context) (DomainList, error) {
	var out DomainList
	err := c.do(ctx, http.MethodGet, "/api/v1/domains", nil, http.StatusOK, &out)
	return out, err
}

// RemoveDomain removes the short domain host (admin key).
func (c *Client) RemoveDomain(ctx context.Context, host string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/domains/"+url.PathEscape(host), nil, http.StatusNoContent, nil)
}
