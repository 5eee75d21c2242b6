package telemetry

import (
	"context"
	"errors"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortlinks/shortlinks/internal/link"
)

// TracedStore is a link.Store whose every call is a span named after the
// tier it wraps ("cache.Get", "database.Insert"). It is only put in place
// when tracing is on, so that it costs nothing otherwise.
type TracedStore struct {
	next   link.Store
	tracer trace.Tracer
	tier   string
	attrs  []attribute.KeyValue
}

// TraceStore wraps next, a tier called tier; attrs go on every span.
func TraceStore(next link.Store, tp trace.TracerProvider, tier string, attrs ...attribute.KeyValue) *TracedStore {
	return &TracedStore{next: next, tracer: tp.Tracer("github.com/shortlinks/shortlinks/internal/telemetry"), tier: tier, attrs: attrs}
}

func (s *TracedStore) start(ctx context.Context, op string, c link.Code) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, s.tier+"."+op, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(slices.Concat(s.attrs, []attribute.KeyValue{attribute.String("shortlinks.code", string(c))})...))
}

// end ends span, marking it failed for an error other than a link that is
// not there, which is an answer, not a failure.
func end(span trace.Span, err error) {
	if err != nil && !errors.Is(err, link.ErrNotFound) && !errors.Is(err, link.ErrCodeTaken) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Insert implements link.Store.
func (s *TracedStore) Insert(ctx context.Context, l link.Link) (int64, error) {
	ctx, span := s.start(ctx, "Insert", l.Code)
	id, err := s.next.Insert(ctx, l)
	end(span, err)
	return id, err
}

// Get implements link.Store. A tier that knows more about the lookup (the
// cache: which of its tiers answered) adds it to the span itself.
func (s *TracedStore) Get(ctx context.Context, c link.Code) (link.Link, error) {
	ctx, span := s.start(ctx, "Get", c)
	l, err := s.next.Get(ctx, c)
	end(span, err)
	return l, err
}

// Delete implements link.Store.
func (s *TracedStore) Delete(ctx context.Context, c link.Code) error {
	ctx, span := s.start(ctx, "Delete", c)
	err := s.next.Delete(ctx, c)
	end(span, err)
	return err
}

// TracedLister is a link.Lister whose every page is a span, like
// TracedStore's calls.
type TracedLister struct {
	next   link.Lister
	tracer trace.Tracer
	name   string
	attrs  []attribute.KeyValue
}

// TraceLister wraps next, a tier called tier; attrs go on every span.
func TraceLister(next link.Lister, tp trace.TracerProvider, tier string, attrs ...attribute.KeyValue) *TracedLister {
	return &TracedLister{next: next, tracer: tp.Tracer("github.com/shortlinks/shortlinks/internal/telemetry"), name: tier + ".List", attrs: attrs}
}

// List implements link.Lister.
func (l *TracedLister) List(ctx context.Context, q link.ListQuery) ([]link.Link, error) {
	ctx, span := l.tracer.Start(ctx, l.name, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(slices.Concat(l.attrs, []attribute.KeyValue{attribute.Int("shortlinks.limit", q.Limit)})...))
	links, err := l.next.List(ctx, q)
	span.SetAttributes(attribute.Int("shortlinks.links", len(links)))
	end(span, err)
	return links, err
}
