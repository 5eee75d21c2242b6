package telemetry

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"

	"github.com/shortlinks/shortlinks/internal/link"
)

var _ link.DomainLinks = (*TracedStore)(nil)

var errNoDomains = errors.New("telemetry: the traced store keeps the default domain's links only")

// GetOn implements link.DomainLinks when the wrapped store does.
func (s *TracedStore) GetOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	next, ok := s.next.(link.DomainLinks)
	if !ok {
		return link.Link{}, errNoDomains
	}
	ctx, span := s.start(ctx, "GetOn", c)
	span.SetAttributes(attribute.Int64("shortlinks.domain", d))
	l, err := next.GetOn(ctx, d, c)
	end(span, err)
	return l, err
}

// DeleteOn implements link.DomainLinks when the wrapped store does.
func (s *TracedStore) DeleteOn(ctx context.Context, d int64, c link.Code) error {
	next, ok := s.next.(link.DomainLinks)
	if !ok {
		return errNoDomains
	}
	ctx, span := s.start(ctx, "DeleteOn", c)
	span.SetAttributes(attribute.Int64("shortlinks.domain", d))
	err := next.DeleteOn(ctx, d, c)
	end(span, err)
	return err
}
