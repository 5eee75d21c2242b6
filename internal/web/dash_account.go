package web

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/shortlinks/shortlinks/internal/account"
)

// LoginForm serves the sign-in form; someone signed in already goes on to
// their links.
func (d *Dashboard) LoginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := d.sessions.Current(r.Context()); err == nil {
		seeOther(w, r, next)
		return
	}
	dd := d.data(r, account.User{}, "Sign in", "")
	dd.Next = next
	switch r.URL.Query().Get("signed_out") {
	case "here":
		dd.Flash = flash{Message: "You have signed out."}
	case "everywhere":
		dd.Flash = flash{Message: "You have signed out on every device."}
	}
	d.render(w, r, "login", http.StatusOK, dd)
}

// Login signs in with the posted email and password and goes on to the
// page the person came for. The route table puts SameOrigin in front of
// it, so that no other site can sign a visitor in to an account of its
// choosing.
func (d *Dashboard) Login(w http.ResponseWriter, r *http.Request) {
	if !d.readForm(w, r) {
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	dd := d.data(r, account.User{}, "Sign in", "")
	dd.Next = safeNext(r.PostFormValue("next"))
	dd.Form["email"] = email
	if email == "" {
		dd.Errors = append(dd.Errors, fieldError{Input: "email", Message: "Enter your email address."})
	}
	if password == "" {
		dd.Errors = append(dd.Errors, fieldError{Input: "password", Message: "Enter your password."})
	}
	if len(dd.Errors) > 0 {
		d.render(w, r, "login", http.StatusBadRequest, dd)
		return
	}
	u, err := d.users.SignIn(r.Context(), email, password, limitKey(d.clientIP(r)))
	if err != nil {
		var throttled *account.ThrottledError
		switch {
		case errors.As(err, &throttled):
			secs := int(throttled.RetryAfter().Seconds() + 0.999)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			dd.Errors = []fieldError{{Message: "Too many sign-in attempts. Wait " + plural(secs, "second") + " and try again."}}
			d.render(w, r, "login", http.StatusTooManyRequests, dd)
		case errors.Is(err, account.ErrInvalidCredentials):
			// Beside neither input: which one is wrong is not told.
			dd.Errors = []fieldError{{Message: account.ErrInvalidCredentials.Message}}
			d.render(w, r, "login", http.StatusUnauthorized, dd)
		default:
			d.fail(w, r, err)
		}
		return
	}
	if err := d.sessions.SignIn(r.Context(), u); err != nil {
		d.fail(w, r, err)
		return
	}
	d.setFlash(r.Context(), "Signed in as "+u.Email+".")
	seeOther(w, r, dd.Next)
}

// limitKey is the client address as sign-in attempts are counted: an IPv4
// address alone, an IPv6 client by its /64, which one client usually
// holds whole.
func limitKey(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// Logout ends the session.
func (d *Dashboard) Logout(w http.ResponseWriter, r *http.Request) {
	if err := d.sessions.SignOut(r.Context()); err != nil {
		d.fail(w, r, err)
		return
	}
	seeOther(w, r, "/login?signed_out=here")
}

// Account shows who is signed in, with a way to sign out everywhere.
func (d *Dashboard) Account(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	d.render(w, r, "account", http.StatusOK, d.data(r, u, "Your account", "account"))
}

// SignOutEverywhere ends every session of the signed-in user, this one
// included.
func (d *Dashboard) SignOutEverywhere(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	if _, err := d.users.SignOutEverywhere(r.Context(), u.Principal(), u.ID); err != nil {
		d.fail(w, r, err)
		return
	}
	// This session is void already; end it here too so that its cookie
	// goes.
	if err := d.sessions.SignOut(r.Context()); err != nil {
		d.fail(w, r, err)
		return
	}
	seeOther(w, r, "/login?signed_out=everywhere")
}
