package shlink

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Problem is an error as Shlink reports it: an RFC 7807 problem details
// object whose Type is one of Shlink's error URIs, with the members
// Shlink adds for some types (invalidElements, shortCode, customSlug).
type Problem struct {
	Type   string
	Title  string
	Detail string
	Status int
	Extra  map[string]any
}

func (p *Problem) Error() string { return p.Type + ": " + p.Detail }

// typeURI is the type of a Shlink error with this code.
func typeURI(code string) string { return "https://shlink.io/api/error/" + code }

// Shlink's error codes.
const (
	codeInvalidData      = "invalid-data"
	codeMalformedBody    = "malformed-request-body"
	codeNotFound         = "short-url-not-found"
	codeNonUniqueSlug    = "non-unique-slug"
	codeInvalidKey       = "invalid-api-key"
	codeMissingAuth      = "missing-authentication"
	codeMercureOff       = "mercure-not-configured"
	codeDomainNotFound   = "domain-not-found"
	titleInvalidData     = "Invalid data"
	detailInvalidData    = "Provided data is not valid"
	titleShortURLMissing = "Short URL not found"
)

var (
	errMissingKey = &Problem{Type: typeURI(codeMissingAuth), Title: "Invalid authorization", Status: http.StatusUnauthorized,
		Detail: `Expected one of the following authentication headers, ["X-Api-Key"], but none were provided`,
		Extra:  map[string]any{"expectedHeaders": []string{keyHeader}}}
	errMissingQueryKey = &Problem{Type: typeURI(codeMissingAuth), Title: "Invalid authorization", Status: http.StatusUnauthorized,
		Detail: `Expected authentication to be provided in "apiKey" query param`,
		Extra:  map[string]any{"param": "apiKey"}}
	errInvalidKey = &Problem{Type: typeURI(codeInvalidKey), Title: "Invalid API key", Status: http.StatusUnauthorized,
		Detail: "Provided API key does not exist or is invalid."}
	errMercureOff = &Problem{Type: typeURI(codeMercureOff), Title: "Mercure integration not configured", Status: http.StatusNotImplemented,
		Detail: "This Shlink instance is not integrated with a mercure hub."}
)

// invalidData is Shlink's validation error naming the fields at fault;
// detail says what is wrong with them, in our words.
func invalidData(detail string, fields ...string) *Problem {
	if detail == "" {
		detail = detailInvalidData
	}
	return &Problem{Type: typeURI(codeInvalidData), Title: titleInvalidData, Status: http.StatusBadRequest,
		Detail: detail, Extra: map[string]any{"invalidElements": fields}}
}

// forbidden is a key that may not do what it asks; Shlink has no type of
// its own for it.
func forbidden(detail string) *Problem {
	return &Problem{Type: "https://httpstatus.es/403", Title: http.StatusText(http.StatusForbidden), Status: http.StatusForbidden, Detail: detail}
}

func notFound(code string) *Problem {
	return &Problem{Type: typeURI(codeNotFound), Title: titleShortURLMissing, Status: http.StatusNotFound,
		Detail: `No URL found with short code "` + code + `"`, Extra: map[string]any{"shortCode": code}}
}

// fieldNames maps the fields our errors name to Shlink's.
var fieldNames = map[string]string{
	"url":           "longUrl",
	"alias":         "customSlug",
	"expires_at":    "validUntil",
	"expires_in":    "validUntil",
	"valid_from":    "validSince",
	"max_visits":    "maxVisits",
	"title":         "title",
	"tags":          "tags",
	"forward_query": "forwardQuery",
}

// Fail answers r with err as a Shlink problem. Our errors are first
// described by the edge, as every front end's are (which logs a failure
// of ours and notes it for the error report), then given Shlink's type:
// a missing link is short-url-not-found, a taken alias non-unique-slug,
// a rule broken invalid-data naming Shlink's field, a bad key
// invalid-api-key; anything else keeps its status under a generic type.
func (a *API) Fail(w http.ResponseWriter, r *http.Request, err error) {
	a.failNaming(w, r, err, nil)
}

// failNaming is Fail for an operation whose document lists the
// invalidElements it may name: others are left out, and the detail still
// says what is wrong.
func (a *API) failNaming(w http.ResponseWriter, r *http.Request, err error, fields []string) {
	var p *Problem
	if !errors.As(err, &p) {
		p = a.translate(w, r, err)
	}
	if named, ok := p.Extra["invalidElements"].([]string); ok && fields != nil {
		keep := slices.DeleteFunc(slices.Clone(named), func(f string) bool { return !slices.Contains(fields, f) })
		q := *p
		q.Extra = maps.Clone(p.Extra)
		q.Extra["invalidElements"] = keep
		p = &q
	}
	writeProblem(w, p)
}

// The invalidElements Shlink's document lets each operation name.
var (
	createFields = []string{"validSince", "validUntil", "customSlug", "pathPrefix", "maxVisits", "findIfExists", "domain"}
	editFields   = []string{"longUrl", "validSince", "validUntil", "maxVisits"}
)

func (a *API) translate(w http.ResponseWriter, r *http.Request, err error) *Problem {
	d := edge.Describe(w, r, a.log, err)
	var le *link.Error
	isLink := errors.As(err, &le)
	switch {
	case isLink && le.Kind == link.NotFound:
		return notFound(r.PathValue("shortCode"))
	case isLink && errors.Is(err, link.ErrCodeTaken):
		slug := r.PathValue("shortCode")
		if s, ok := r.Context().Value(slugKey{}).(string); ok {
			slug = s
		}
		return &Problem{Type: typeURI(codeNonUniqueSlug), Title: "Invalid custom slug", Status: http.StatusBadRequest,
			Detail: `Provided slug "` + slug + `" is already in use.`, Extra: map[string]any{"customSlug": slug}}
	case isLink && le.Kind == link.Invalid:
		field := fieldNames[le.Field]
		if field == "" {
			field = le.Field
		}
		var fields []string
		if field != "" {
			fields = []string{field}
		}
		return invalidData(le.Message, fields...)
	case d.Status == http.StatusUnauthorized:
		// The edge challenges for a bearer token; Shlink's clients send
		// X-Api-Key and expect no challenge.
		w.Header().Del("Www-Authenticate")
		return errInvalidKey
	}
	return &Problem{Type: "https://httpstatus.es/" + strconv.Itoa(d.Status), Title: http.StatusText(d.Status),
		Status: d.Status, Detail: d.Message}
}

// slugKey carries the custom slug of a create to Fail, for the
// non-unique-slug answer.
type slugKey struct{}

// writeProblem answers with p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *Problem) {
	body := make(map[string]any, 4+len(p.Extra))
	for k, v := range p.Extra {
		body[k] = v
	}
	body["type"], body["title"], body["detail"], body["status"] = p.Type, p.Title, p.Detail, p.Status
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte(`{"type":"https://httpstatus.es/500","title":"Internal Server Error","detail":"The error could not be encoded.","status":500}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	w.Write(append(b, '\n'))
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	edge.WriteJSON(w, status, v)
}
