package routes

import (
	"net/http"
	"strings"

	"github.com/shortlinks/shortlinks/internal/edge"
)

// Shlink is the Shlink-compatible REST API; *shlink.API is one. Its
// routes are mounted under ShlinkPrefix with --compat shlink.
type Shlink interface {
	CreateShortURL(w http.ResponseWriter, r *http.Request)
	Shorten(w http.ResponseWriter, r *http.Request) // the GET shortcut that creates
	ListShortURLs(w http.ResponseWriter, r *http.Request)
	GetShortURL(w http.ResponseWriter, r *http.Request)
	EditShortURL(w http.ResponseWriter, r *http.Request)
	DeleteShortURL(w http.ResponseWriter, r *http.Request)
	ShortURLVisits(w http.ResponseWriter, r *http.Request)
	VisitsList(w http.ResponseWriter, r *http.Request) // orphan, non-orphan, a tag's, a domain's
	Visits(w http.ResponseWriter, r *http.Request)
	Tags(w http.ResponseWriter, r *http.Request)
	TagStats(w http.ResponseWriter, r *http.Request)
	Domains(w http.ResponseWriter, r *http.Request)
	MercureInfo(w http.ResponseWriter, r *http.Request)
	Health(w http.ResponseWriter, r *http.Request)
	// Fail answers a failure of the table's own (no route, a method the
	// path does not take, a rate limit) as Shlink would.
	Fail(w http.ResponseWriter, r *http.Request, err error)
	// CORS lets browser apps on other origins call next; Preflight
	// answers their OPTIONS requests for a path taking the methods in
	// allow.
	CORS(next http.Handler) http.Handler
	Preflight(allow string) http.Handler
}

// ShlinkPrefix starts every path of the Shlink-compatible API.
const ShlinkPrefix = "/rest/"

// shlinkVersions are the API versions mounted: Shlink's clients speak v3,
// older scripts v2, and the two agree on everything served here.
var shlinkVersions = []string{"v2", "v3"}

// registerShlink mounts the Shlink-compatible API. Each route is a
// "METHOD path" pattern like the native ones, so metrics and logs name it
// the same way, wrapped in CORS; the creating routes pass the same rate
// limit and count as creates, like the API's and the form's.
func (t *Table) registerShlink(mux router) {
	s := t.shlink
	creates := func(h http.HandlerFunc) http.Handler {
		return t.countCompatCreates(t.limitCreatesWith(s.Fail, t.readsBody(h)))
	}
	// allowed maps each path to the methods it takes, for 405s and
	// preflights.
	allowed := http.NewServeMux()
	path := func(p string, ops ...op) {
		methods := make([]string, len(ops))
		for i, o := range ops {
			mux.Handle(o.method+" "+p, s.CORS(o.h))
			methods[i] = o.method
		}
		allow := strings.Join(methods, ", ")
		mux.Handle("OPTIONS "+p, s.Preflight(allow))
		allowed.Handle(p, t.shlinkNotAllowed(allow))
	}
	get := func(h http.HandlerFunc) op { return op{"GET", h} }
	for _, v := range shlinkVersions {
		p := ShlinkPrefix + v
		path(p+"/short-urls", get(s.ListShortURLs), op{"POST", creates(s.CreateShortURL)})
		path(p+"/short-urls/shorten", op{"GET", creates(s.Shorten)})
		path(p+"/short-urls/{shortCode}", get(s.GetShortURL),
			op{"PATCH", t.readsBody(s.EditShortURL)}, op{"DELETE", http.HandlerFunc(s.DeleteShortURL)})
		path(p+"/short-urls/{shortCode}/visits", get(s.ShortURLVisits))
		path(p+"/visits", get(s.Visits))
		path(p+"/visits/orphan", get(s.VisitsList))
		path(p+"/visits/non-orphan", get(s.VisitsList))
		path(p+"/tags", get(s.Tags))
		path(p+"/tags/stats", get(s.TagStats))
		path(p+"/tags/{tag}/visits", get(s.VisitsList))
		path(p+"/domains", get(s.Domains))
		path(p+"/domains/{domain}/visits", get(s.VisitsList))
		path(p+"/mercure-info", get(s.MercureInfo))
		// Shlink's SDK asks for health under the version.
		path(p+"/health", get(s.Health))
	}
	path(ShlinkPrefix+"health", get(s.Health))

	// Any other request under the prefix: 405 for a path that takes other
	// methods, else 404, as problems.
	mux.Handle(ShlinkPrefix, s.CORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := allowed.Handler(r); pattern != "" {
			h.ServeHTTP(w, r)
			return
		}
		s.Fail(w, r, edge.ErrNoRoute)
	})))
}

// op is one method of a path and its handler.
type op struct {
	method string
	h      http.Handler
}

func (t *Table) shlinkNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.shlink.Fail(w, r, methodNotAllowed(allow))
	})
}
