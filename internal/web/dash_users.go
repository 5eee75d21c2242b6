package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
)

// userRow is a user as the users page shows them.
type userRow struct {
	ID         int64
	Email      string
	Role       string
	CreatedAt  time.Time
	DisabledAt time.Time
	Disabled   bool
	You        bool
}

var userInputs = map[string]string{"email": "email", "password": "password", "role": "role"}

// usersData is the users page: every user, in the order they were made.
func (d *Dashboard) usersData(r *http.Request, u account.User) (dashData, error) {
	dd := d.data(r, u, "Users", "users")
	for after := int64(0); ; {
		users, err := d.users.List(r.Context(), u.Principal(), after, account.MaxPageSize)
		if err != nil {
			return dd, err
		}
		for _, x := range users {
			dd.Users = append(dd.Users, userRow{ID: x.ID, Email: x.Email, Role: string(x.Role), CreatedAt: x.CreatedAt,
				DisabledAt: x.DisabledAt, Disabled: x.Disabled(), You: x.ID == u.ID})
			after = x.ID
		}
		if len(users) < account.MaxPageSize {
			return dd, nil
		}
	}
}

// Users lists the users, for administrators, with forms to add one,
// disable or enable one and reset a password.
func (d *Dashboard) Users(w http.ResponseWriter, r *http.Request) {
	u, ok := d.admin(w, r)
	if !ok {
		return
	}
	dd, err := d.usersData(r, u)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	dd.Form["role"] = string(account.RoleMember)
	d.render(w, r, "users", http.StatusOK, dd)
}

// usersError shows the users page again with what went wrong.
func (d *Dashboard) usersError(w http.ResponseWriter, r *http.Request, u account.User, err error, form map[string]string) {
	status, fe := d.problem(w, r, err, userInputs)
	dd, lerr := d.usersData(r, u)
	if lerr != nil {
		d.fail(w, r, lerr)
		return
	}
	if form != nil {
		dd.Form = form
	} else {
		fe.Input = "" // a row's action: shown in the summary
		dd.Form["role"] = string(account.RoleMember)
	}
	dd.Errors = []fieldError{fe}
	d.render(w, r, "users", status, dd)
}

// CreateUser adds a user.
func (d *Dashboard) CreateUser(w http.ResponseWriter, r *http.Request) {
	u, ok := d.admin(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	form := map[string]string{"email": strings.TrimSpace(r.PostFormValue("email")), "role": r.PostFormValue("role")}
	nu, err := d.users.Create(r.Context(), u.Principal(), account.NewUser{
		Email: form["email"], Password: r.PostFormValue("password"), Role: account.Role(form["role"]),
	})
	if err != nil {
		d.usersError(w, r, u, err, form)
		return
	}
	d.setFlash(r.Context(), "Added "+string(nu.Role)+" "+nu.Email+".")
	seeOther(w, r, "/users")
}

// userAction runs act on the user of the path's id and says what it did.
func (d *Dashboard) userAction(w http.ResponseWriter, r *http.Request, act func(u account.User, id int64) (string, error)) {
	u, ok := d.admin(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	id, ok := d.pathID(w, r, "id")
	if !ok {
		return
	}
	msg, err := act(u, id)
	if err != nil {
		d.usersError(w, r, u, err, nil)
		return
	}
	d.setFlash(r.Context(), msg)
	seeOther(w, r, "/users")
}

// DisableUser stops a user signing in and ends their sessions.
func (d *Dashboard) DisableUser(w http.ResponseWriter, r *http.Request) {
	d.userAction(w, r, func(u account.User, id int64) (string, error) {
		return "Disabled the user; their sessions have ended and their keys stopped.", d.users.Disable(r.Context(), u.Principal(), id)
	})
}

// EnableUser lets a disabled user sign in again.
func (d *Dashboard) EnableUser(w http.ResponseWriter, r *http.Request) {
	d.userAction(w, r, func(u account.User, id int64) (string, error) {
		return "Enabled the user.", d.users.Enable(r.Context(), u.Principal(), id)
	})
}

// ResetPassword gives a user the posted password and ends their sessions.
func (d *Dashboard) ResetPassword(w http.ResponseWriter, r *http.Request) {
	d.userAction(w, r, func(u account.User, id int64) (string, error) {
		return "Set a new password; the user's sessions have ended.",
			d.users.ResetPassword(r.Context(), u.Principal(), id, r.PostFormValue("password"))
	})
}
