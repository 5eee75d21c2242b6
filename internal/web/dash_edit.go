package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// linkOptions are the options inputs of the create and edit forms, as
// the form shows them.
type linkOptions struct {
	Title         string
	Tags          string // separated by commas
	MaxVisits     string
	ForwardQuery  bool
	HasPassword   bool // the link has a password now
	ClearPassword bool
	Rules         []ruleRow
	// FixedRules describes rules the row editor cannot show, which have
	// several conditions each; the API edits them.
	FixedRules []string
}

// ruleRow is one row of the rules editor: when the visitor's Kind
// (device, country or language) is Value, send them to URL.
type ruleRow struct {
	N     int
	Kind  string
	Value string
	URL   string
	Kinds []option
}

// ruleKinds are the conditions a rule row offers.
var ruleKinds = []struct{ value, label string }{
	{"device", "Device is"},
	{"country", "Country is"},
	{"language", "Language is"},
}

func newRuleRow(n int, kind, value, dest string) ruleRow {
	r := ruleRow{N: n, Kind: kind, Value: value, URL: dest}
	for _, k := range ruleKinds {
		r.Kinds = append(r.Kinds, option{Value: k.value, Label: k.label, Selected: k.value == kind})
	}
	return r
}

// blankRows is how many empty rule rows a form offers beyond the rules it
// has: more are added by saving, so the editor needs no script.
const blankRows = 2

// blankRules adds the empty rows to rows.
func blankRules(rows []ruleRow) []ruleRow {
	for range blankRows {
		rows = append(rows, newRuleRow(len(rows), "device", "", ""))
	}
	return rows
}

// ruleKind returns a rule's one condition, or false when it has several.
func ruleKind(c link.Condition) (kind, value string, ok bool) {
	n := 0
	if c.Device != "" {
		kind, value, n = "device", c.Device, n+1
	}
	if c.Country != "" {
		kind, value, n = "country", c.Country, n+1
	}
	if c.Language != "" {
		kind, value, n = "language", c.Language, n+1
	}
	return kind, value, n == 1
}

// ruleText says a rule in words.
func ruleText(r link.Rule) string {
	var when []string
	if r.When.Device != "" {
		when = append(when, "device is "+r.When.Device)
	}
	if r.When.Country != "" {
		when = append(when, "country is "+r.When.Country)
	}
	if r.When.Language != "" {
		when = append(when, "language is "+r.When.Language)
	}
	return "When " + strings.Join(when, " and ") + ": " + r.URL
}

// editableRules reports whether the row editor can show rules: each has
// one condition.
func editableRules(rules []link.Rule) bool {
	for _, r := range rules {
		if _, _, ok := ruleKind(r.When); !ok {
			return false
		}
	}
	return true
}

// optionsOf fills the options inputs with what l has.
func optionsOf(l link.Link) linkOptions {
	o := linkOptions{Title: l.Title, Tags: strings.Join(l.Tags, ", "), ForwardQuery: l.ForwardQuery, HasPassword: l.PasswordHash != ""}
	if l.MaxVisits != 0 {
		o.MaxVisits = strconv.FormatInt(l.MaxVisits, 10)
	}
	if !editableRules(l.Rules) {
		for _, r := range l.Rules {
			o.FixedRules = append(o.FixedRules, ruleText(r))
		}
		return o
	}
	var rows []ruleRow
	for i, r := range l.Rules {
		kind, value, _ := ruleKind(r.When)
		rows = append(rows, newRuleRow(i, kind, value, r.URL))
	}
	o.Rules = blankRules(rows)
	return o
}

// localLayout is how a datetime-local input writes a time; the forms
// take and show times in UTC.
const localLayout = "2006-01-02T15:04"

func localTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(localLayout)
}

// splitTags reads the tags input: tags separated by commas.
func splitTags(s string) []string {
	var tags []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// readOptions reads the options inputs of a posted form into a patch,
// against the link as stored (cur; nil when creating), so that the patch
// holds only what changed. It checks only what the form itself must (a
// number is a number); the link rules are the service's to check. rows
// maps the patch's rules to their row numbers, to place the service's
// errors. errs are the inputs that could not be read.
func readOptions(r *http.Request, cur *link.Link) (patch link.Patch, o linkOptions, rows []int, errs []fieldError) {
	if cur == nil {
		cur = &link.Link{}
	}
	o = linkOptions{
		Title: r.PostFormValue("title"), Tags: r.PostFormValue("tags"), MaxVisits: strings.TrimSpace(r.PostFormValue("max_visits")),
		ForwardQuery: r.PostFormValue("forward_query") != "", HasPassword: cur.PasswordHash != "",
		ClearPassword: r.PostFormValue("clear_password") != "",
	}
	if strings.TrimSpace(o.Title) != cur.Title {
		patch.Title = link.To(o.Title)
	}
	tags := splitTags(o.Tags)
	if n, err := link.NormalizeTags(tags); err != nil || !slices.Equal(n, cur.Tags) {
		patch.Tags = link.To(tags)
	}
	switch n, err := strconv.ParseInt(o.MaxVisits, 10, 64); {
	case o.MaxVisits == "":
		if cur.MaxVisits != 0 {
			patch.MaxVisits = link.Cleared[int64]()
		}
	case err != nil:
		errs = append(errs, fieldError{Input: "max_visits", Message: "Enter a whole number of visits, or leave it empty for no limit."})
	case n != cur.MaxVisits:
		patch.MaxVisits = link.To(n)
	}
	if pw := r.PostFormValue("password"); pw != "" {
		patch.Password = link.To(pw)
	} else if o.ClearPassword && o.HasPassword {
		patch.Password = link.Cleared[string]()
	}
	if o.ForwardQuery != cur.ForwardQuery {
		patch.ForwardQuery = link.To(o.ForwardQuery)
	}
	if !editableRules(cur.Rules) {
		o2 := optionsOf(*cur)
		o.FixedRules = o2.FixedRules
		return patch, o, nil, errs
	}
	n, _ := strconv.Atoi(r.PostFormValue("rule_rows"))
	n = min(max(n, 0), link.MaxRules+blankRows)
	var rules []link.Rule
	var shown []ruleRow
	for i := range n {
		kind := r.PostFormValue(fmt.Sprintf("rule_%d_kind", i))
		value := strings.TrimSpace(r.PostFormValue(fmt.Sprintf("rule_%d_value", i)))
		dest := strings.TrimSpace(r.PostFormValue(fmt.Sprintf("rule_%d_url", i)))
		if value == "" && dest == "" {
			continue
		}
		row := newRuleRow(len(shown), kind, value, dest)
		shown = append(shown, row)
		var when link.Condition
		switch kind {
		case "device":
			when.Device = value
		case "country":
			when.Country = value
		case "language":
			when.Language = value
		default:
			errs = append(errs, fieldError{Input: fmt.Sprintf("rule-%d-kind", row.N), Message: "Choose device, country or language."})
			continue
		}
		rules = append(rules, link.Rule{When: when, URL: dest})
		rows = append(rows, row.N)
	}
	o.Rules = blankRules(shown)
	if !slices.Equal(rules, cur.Rules) {
		patch.Rules = link.To(rules)
	}
	return patch, o, rows, errs
}

// optionInput maps an error's field to the input that shows it: a rule's
// by its row, others by named, the rest by the options' own names.
func optionInput(field string, rows []int, named map[string]string) string {
	if in, ok := named[field]; ok {
		return in
	}
	switch field {
	case "title", "tags", "max_visits", "password", "forward_query":
		return field
	case "disabled_reason":
		return "reason"
	case "rules":
		return "rule-0-value"
	}
	if rest, ok := strings.CutPrefix(field, "rules["); ok {
		i, rest, _ := strings.Cut(rest, "]")
		j, err := strconv.Atoi(i)
		if err != nil || j < 0 || j >= len(rows) {
			return ""
		}
		if rest == ".url" {
			return fmt.Sprintf("rule-%d-url", rows[j])
		}
		return fmt.Sprintf("rule-%d-value", rows[j])
	}
	return ""
}

// problemAt describes err for a form: its status, and the message beside
// the input input names for the error's field.
func (d *Dashboard) problemAt(w http.ResponseWriter, r *http.Request, err error, input func(field string) string) (int, fieldError) {
	pr := edge.Describe(w, r, d.p.log, err)
	if ra := pr.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	return pr.Status, fieldError{Input: input(pr.Field), Message: pr.Message}
}

// editInputs maps an edit error's field to the input that shows it.
var editInputs = map[string]string{"url": "url", "expires_at": "expires_at"}

// UpdateLink saves the edit form: every field that differs from what is
// stored goes to the service as one patch, as PATCH /api/v1/links/{code}
// would send it. Problems come back beside their inputs.
func (d *Dashboard) UpdateLink(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	cur, ok := d.linkFor(w, r, u)
	if !ok {
		return
	}
	patch, opts, rows, errs := readOptions(r, &cur)
	form := map[string]string{
		"url":        strings.TrimSpace(r.PostFormValue("url")),
		"expires_at": strings.TrimSpace(r.PostFormValue("expires_at")),
	}
	if form["url"] != cur.URL {
		patch.URL = link.To(form["url"])
	}
	switch form["expires_at"] {
	case localTime(cur.ExpiresAt):
	case "":
		patch.ExpiresAt = link.Cleared[time.Time]()
	default:
		t, err := time.Parse(localLayout, form["expires_at"])
		if err != nil {
			errs = append(errs, fieldError{Input: "expires_at", Message: "Enter a date and a time (UTC), or leave it empty for a link that never expires."})
		}
		patch.ExpiresAt = link.To(t)
	}
	again := func(status int, errs []fieldError) {
		dd := d.linkData(r, u, cur)
		dd.Form, dd.Options, dd.Errors = form, opts, errs
		d.render(w, r, "link", status, dd)
	}
	if len(errs) > 0 {
		again(http.StatusBadRequest, errs)
		return
	}
	if unchanged(patch) {
		d.setFlash(r.Context(), "Nothing changed.")
		seeOther(w, r, d.linkPath(cur))
		return
	}
	if _, err := d.links.UpdateOn(r.Context(), cur.Domain, cur.Code, patch, u.Principal()); err != nil {
		status, fe := d.problemAt(w, r, err, func(field string) string { return optionInput(field, rows, editInputs) })
		again(status, []fieldError{fe})
		return
	}
	d.setFlash(r.Context(), "Saved the changes to "+d.shortURL(cur)+".")
	seeOther(w, r, d.linkPath(cur))
}

// unchanged reports whether p sets nothing.
func unchanged(p link.Patch) bool {
	return !p.URL.Set && !p.ExpiresAt.Set && !p.Title.Set && !p.Tags.Set && !p.Disabled.Set && !p.DisabledReason.Set &&
		!p.ValidFrom.Set && !p.MaxVisits.Set && !p.Password.Set && !p.ForwardQuery.Set && !p.Rules.Set
}

// DisableLink disables the link, with the reason given if any: it answers
// 410 until enabled again.
func (d *Dashboard) DisableLink(w http.ResponseWriter, r *http.Request) {
	d.setDisabled(w, r, func(r *http.Request) link.Patch {
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		p := link.Patch{Disabled: link.To(true)}
		if reason != "" {
			p.DisabledReason = link.To(reason)
		}
		return p
	}, "Disabled")
}

// EnableLink enables a disabled link again.
func (d *Dashboard) EnableLink(w http.ResponseWriter, r *http.Request) {
	d.setDisabled(w, r, func(*http.Request) link.Patch { return link.Patch{Disabled: link.To(false)} }, "Enabled")
}

func (d *Dashboard) setDisabled(w http.ResponseWriter, r *http.Request, patch func(*http.Request) link.Patch, done string) {
	u, ok := d.user(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	cur, ok := d.linkFor(w, r, u)
	if !ok {
		return
	}
	if _, err := d.links.UpdateOn(r.Context(), cur.Domain, cur.Code, patch(r), u.Principal()); err != nil {
		status, fe := d.problemAt(w, r, err, func(field string) string { return optionInput(field, nil, nil) })
		dd := d.linkData(r, u, cur)
		dd.Form["reason"] = r.PostFormValue("reason")
		dd.Errors = []fieldError{fe}
		d.render(w, r, "link", status, dd)
		return
	}
	d.setFlash(r.Context(), done+" "+d.shortURL(cur)+".")
	seeOther(w, r, d.linkPath(cur))
}
