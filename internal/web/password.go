package web

import (
	"net/http"
	"strings"

	"github.com/shortlinks/shortlinks/internal/link"
)

// passwordData is what the password page shows.
type passwordData struct {
	ShortURL string // the short link, for people to read
	Action   string // where the form posts: the short URL's path and query
}

// PasswordForm shows the page that asks for the password of the link with
// code, posting the field password to action (httpapi calls it for a link
// with a password; it implements httpapi.PasswordForm). problem, when set,
// is shown beside the input: why the last password was refused.
func (p *Pages) PasswordForm(w http.ResponseWriter, r *http.Request, code link.Code, action string, status int, problem string) {
	d := pageData{Title: "Password needed", Password: passwordData{ShortURL: p.base + "/" + string(code), Action: action}}
	if problem != "" {
		d.Errors = []fieldError{{Input: "password", Message: problem}}
	}
	p.render(passwordWriter{w}, r, p.password, status, d)
}

// passwordCSP is the pages' policy with one change: the form may lead to
// any web address. It posts to this origin, but the answer to the right
// password is a redirect to the link's destination, and browsers hold
// such a redirect to form-action too.
var passwordCSP = strings.Replace(csp, "form-action 'self'", "form-action 'self' https: http:", 1)

// passwordWriter sets passwordCSP in place of the pages' policy.
type passwordWriter struct{ http.ResponseWriter }

func (w passwordWriter) WriteHeader(status int) {
	w.Header().Set("Content-Security-Policy", passwordCSP)
	w.ResponseWriter.WriteHeader(status)
}
