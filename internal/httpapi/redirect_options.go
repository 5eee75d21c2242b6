package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/link"
)

// PasswordForm shows browsers the page that asks for a link's password;
// *web.Pages is one. problem is "" the first time, else why the password
// given was refused; status is the answer's status (200 for the form, 401
// after a wrong password). The form posts the field "password" to action,
// the short URL as it was asked for, query string included.
type PasswordForm interface {
	PasswordForm(w http.ResponseWriter, r *http.Request, code link.Code, action string, status int, problem string)
}

// Countries finds the country a client address is in, for rules by
// country; *analytics.GeoIP is one. It answers from memory.
type Countries interface {
	Country(a netip.Addr) string
}

// maxPasswordForm bounds the body of a password post: the password and
// little else.
const maxPasswordForm = 4 << 10

// linkOptions counts the answers of redirects of links with options
// (shortlinks_link_option_answers_total) by what happened.
type linkOptions struct {
	form, wrong, unlocked, exhausted, ruled prometheus.Counter
}

func (o *linkOptions) init(reg prometheus.Registerer) {
	answers := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortlinks_link_option_answers_total",
		Help: "Answers to visits of links with options: password_form (asked for the password), wrong_password, unlocked (the right password), exhausted (past max_visits), rule (a rule chose the destination).",
	}, []string{"answer"})
	reg.MustRegister(answers)
	o.form = answers.WithLabelValues("password_form")
	o.wrong = answers.WithLabelValues("wrong_password")
	o.unlocked = answers.WithLabelValues("unlocked")
	o.exhausted = answers.WithLabelValues("exhausted")
	o.ruled = answers.WithLabelValues("rule")
}

// redirectWithOptions answers a GET or HEAD of a link that HasOptions: a
// link with a password shows the form that asks for it (or, to a program,
// 401 password_required); any other is counted against its visit limit,
// if it has one, and redirected to where its rules and query forwarding
// send this visitor.
func (s *Server) redirectWithOptions(w http.ResponseWriter, r *http.Request, l *link.Link) {
	if l.PasswordHash != "" {
		s.redirect.options.form.Inc()
		s.askPassword(w, r, l, http.StatusOK, "")
		return
	}
	s.redirectTo(w, r, l, s.redirect.policy.Load().status)
}

// Unlock answers POST /{code}: the password form's post. The right
// password redirects with 303 See Other, so that the browser follows with
// a GET and sends the password nowhere else; a wrong one shows the form
// again with 401 (or, to a program, 401 wrong_password). A link without a
// password is redirected as a GET would be, with 303 too. The route table
// puts the cross-origin check and the per-link, per-client rate limit in
// front of it, before any password is hashed.
func (s *Server) Unlock(w http.ResponseWriter, r *http.Request, d int64, code link.Code) {
	l, err := s.links.ResolveOn(r.Context(), d, code)
	if err != nil {
		s.redirect.failed(err)
		s.errs.Fail(w, r, err)
		return
	}
	if l.PasswordHash != "" {
		secret, err := readPassword(w, r)
		if err != nil {
			s.errs.Fail(w, r, err)
			return
		}
		err = s.links.CheckPassword(r.Context(), l, secret)
		if errors.Is(err, link.ErrWrongPassword) {
			s.redirect.options.wrong.Inc()
			s.askPassword(w, r, &l, http.StatusUnauthorized, link.ErrWrongPassword.Message)
			return
		}
		if err != nil {
			s.errs.Fail(w, r, err)
			return
		}
		s.redirect.options.unlocked.Inc()
	}
	s.redirectTo(w, r, &l, http.StatusSeeOther)
}

// readPassword reads the field password of a form post, or of a JSON
// object for programs that send one.
func readPassword(w http.ResponseWriter, r *http.Request) (string, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var body struct {
			Password string `json:"password"`
		}
		if err := decodeJSONUpTo(w, r, &body, maxPasswordForm); err != nil {
			return "", err
		}
		return body.Password, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPasswordForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", problem(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("The request body is larger than %d KiB.", maxPasswordForm>>10))
		}
		return "", problem(http.StatusBadRequest, "malformed_form", "The form could not be read; reload the page and try again.")
	}
	return r.PostFormValue("password"), nil
}

// askPassword shows browsers the password form and answers programs
// with 401: password_required, or wrong_password after a wrong one.
func (s *Server) askPassword(w http.ResponseWriter, r *http.Request, l *link.Link, status int, problem string) {
	if s.redirect.passwordForm == nil || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		err := link.ErrPasswordRequired
		if problem != "" {
			err = link.ErrWrongPassword
		}
		s.errs.Fail(w, r, err)
		return
	}
	// The form posts back to the short URL as it was asked for, so that
	// its query string is still there to forward.
	action := "/" + string(l.Code)
	if r.URL.RawQuery != "" {
		action += "?" + r.URL.RawQuery
	}
	s.redirect.passwordForm.PasswordForm(w, r, l.Code, action, status, problem)
}

// redirectTo counts the visit against l's limit, if it has one, and sends
// the visitor where l's rules and query forwarding say, with status.
// Answers to links with options are never stored by browsers or shared
// caches: the next visit may go elsewhere, or nowhere.
func (s *Server) redirectTo(w http.ResponseWriter, r *http.Request, l *link.Link, status int) {
	dest := l.URL
	if len(l.Rules) != 0 {
		dest = l.Destination(s.visitOf(r, l))
		if dest != l.URL {
			s.redirect.options.ruled.Inc()
		}
	}
	if l.ForwardQuery {
		dest = link.WithQuery(dest, r.URL.RawQuery)
	}
	if l.MaxVisits != 0 {
		if err := s.links.Visit(r.Context(), *l); err != nil {
			if errors.Is(err, link.ErrExhausted) {
				s.redirect.options.exhausted.Inc()
			} else {
				s.redirect.failed(err)
			}
			s.errs.Fail(w, r, err)
			return
		}
	}
	s.redirect.ok.Inc()
	h := w.Header()
	h["Location"] = []string{dest}
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	s.record(w, r, analytics.Redirect, l.ID, l.Domain)
}

var noStore = []string{"private, no-store"}

// visitOf reads what l's rules need to know of the visitor, and nothing
// more: the GeoIP lookup only for rules by country.
func (s *Server) visitOf(r *http.Request, l *link.Link) link.Visit {
	device, country, language := l.Needs()
	var v link.Visit
	if device {
		v.Device = link.DeviceOf(r.Header.Get("User-Agent"))
	}
	if country && s.redirect.countries != nil && s.redirect.clientIP != nil {
		v.Country = s.redirect.countries.Country(s.redirect.clientIP(r))
	}
	if language {
		v.Language = link.PreferredLanguage(r.Header.Get("Accept-Language"))
	}
	return v
}
