package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/link"
)

// keyRow is an API key as the dashboard shows it.
type keyRow struct {
	ID        int64
	Name      string
	Prefix    string
	Scopes    string
	Owner     string // for admins, whose key it is
	CreatedAt time.Time
	ExpiresAt time.Time
	Status    string // active, expired or revoked
	Active    bool
}

// newKey is a key just made, shown once with its secret.
type newKey struct {
	Name   string
	Secret string
}

// scopeChoice is a scope's checkbox.
type scopeChoice struct {
	Value   string
	Label   string
	Checked bool
}

// keyExpiries are the lifetimes a key may be given.
var keyExpiries = []expiry{
	{"Never", 0},
	{"In 30 days", 30 * 24 * time.Hour},
	{"In 90 days", 90 * 24 * time.Hour},
	{"In 1 year", 365 * 24 * time.Hour},
}

var keyInputs = map[string]string{"name": "name", "scopes": "scopes", "expires_at": "expires"}

func (d *Dashboard) keysData(r *http.Request, u account.User, checked []string, expiresIn string) (dashData, error) {
	dd := d.data(r, u, "API keys", "keys")
	keys, err := d.keys.ListFor(r.Context(), u.Principal())
	if err != nil {
		return dd, err
	}
	now := time.Now()
	for _, k := range keys {
		row := keyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes.String(),
			CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, Status: "active", Active: true}
		switch {
		case !k.RevokedAt.IsZero():
			row.Status, row.Active = "revoked "+dateText(k.RevokedAt), false
		case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
			row.Status, row.Active = "expired", false
		}
		switch {
		case k.UserID == u.ID:
			row.Owner = "you"
		case k.UserID == 0:
			row.Owner = "service key"
		default:
			row.Owner = "user " + strconv.FormatInt(k.UserID, 10)
		}
		dd.Keys = append(dd.Keys, row)
	}
	names := []struct{ value, label string }{
		{"links:read", "Read links"},
		{"links:write", "Create, edit and delete links"},
	}
	if dd.Admin {
		names = append(names, struct{ value, label string }{"admin", "Administer everything"})
	}
	for _, n := range names {
		on := false
		for _, c := range checked {
			on = on || c == n.value
		}
		dd.Scopes = append(dd.Scopes, scopeChoice{Value: n.value, Label: n.label, Checked: on})
	}
	for _, e := range keyExpiries {
		dd.Expiries = append(dd.Expiries, option{Value: e.value(), Label: e.label, Selected: e.value() == expiresIn})
	}
	return dd, nil
}

// Keys lists the signed-in user's API keys (every key, for an admin), with
// a form to make one.
func (d *Dashboard) Keys(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	dd, err := d.keysData(r, u, []string{"links:read", "links:write"}, "")
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.render(w, r, "keys", http.StatusOK, dd)
}

// CreateKey makes a key for the signed-in user and shows its secret, this
// once.
func (d *Dashboard) CreateKey(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	scopes := r.PostForm["scopes"]
	expiresIn := r.PostFormValue("expires_in")
	var errs []fieldError
	if name == "" {
		errs = append(errs, fieldError{Input: "name", Message: "Give the key a name, such as what it is for."})
	}
	params := apikey.IssueParams{Name: name, UserID: u.ID}
	s, err := link.ParseScopes(scopes)
	switch {
	case err != nil:
		errs = append(errs, fieldError{Input: "scopes", Message: "Choose scopes from the list."})
	case s == 0:
		errs = append(errs, fieldError{Input: "scopes", Message: "Choose at least one scope."})
	}
	params.Scopes = s
	known := false
	for _, e := range keyExpiries {
		if e.value() == expiresIn {
			known = true
			if e.d > 0 {
				params.ExpiresAt = time.Now().Add(e.d)
			}
		}
	}
	if !known {
		errs = append(errs, fieldError{Input: "expires", Message: "Choose one of the expiry times in the list."})
	}
	status := http.StatusBadRequest
	var k apikey.Key
	var secret string
	if len(errs) == 0 {
		k, secret, err = d.keys.Issue(r.Context(), u.Principal(), params)
		if err != nil {
			var fe fieldError
			status, fe = d.problem(w, r, err, keyInputs)
			errs = append(errs, fe)
		}
	}
	if len(errs) > 0 {
		dd, err := d.keysData(r, u, scopes, expiresIn)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		dd.Errors, dd.Form["name"] = errs, name
		d.render(w, r, "keys", status, dd)
		return
	}
	dd, err := d.keysData(r, u, []string{"links:read", "links:write"}, "")
	if err != nil {
		d.fail(w, r, err)
		return
	}
	dd.NewKey = newKey{Name: k.Name, Secret: secret}
	d.render(w, r, "keys", http.StatusCreated, dd)
}

// RevokeKey stops a key working; the links it made stay.
func (d *Dashboard) RevokeKey(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	id, ok := d.pathID(w, r, "id")
	if !ok {
		return
	}
	if err := d.keys.RevokeBy(r.Context(), u.Principal(), id); err != nil {
		d.fail(w, r, err)
		return
	}
	d.setFlash(r.Context(), "Revoked key "+strconv.FormatInt(id, 10)+".")
	seeOther(w, r, "/keys")
}
