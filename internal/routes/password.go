package routes

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
)

// limitPasswords rations the password attempts on each link per client,
// before a password is hashed: a guesser gets a few tries a minute at one
// link from one address (one IPv6 prefix), and spends nobody else's. A
// link is its code on its domain; a host that is no domain shares the
// default domain's budget, so that inventing hosts buys no attempts.
func (t *Table) limitPasswords(next http.Handler) http.Handler {
	if t.passwords == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := "password:" + r.PathValue("code") + ":" + ratelimit.ClientKey(t.clientIP(r), t.ipv6Prefix)
		if d, _ := t.requestDomain(r); d != link.DefaultDomain {
			key += ":" + strconv.FormatInt(d, 10)
		}
		d, err := t.passwords.Allow(r.Context(), key)
		if err != nil {
			t.log.WarnContext(r.Context(), "rate limiter failed; allowing", "err", err)
		} else if !d.Allowed {
			t.metrics.rateLimited.Inc()
			t.errs.Fail(w, r, errRateLimited(d.RetryAfter))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// notOwnPath sends the paths of the table's own names (/healthz, /login…)
// and of previews (/{code}+) that no pattern of theirs took to a 405 that allows what a plain
// page does, GET and HEAD, rather than to next, which is for codes: a
// POST to /healthz is not a password form.
func (t *Table) notOwnPath(next http.Handler) http.Handler {
	own := t.notAllowed("GET, HEAD")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := r.PathValue("code")
		if _, ok := t.reserved[code]; ok || strings.HasSuffix(code, "+") {
			own.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
