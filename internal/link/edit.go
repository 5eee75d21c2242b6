package link

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field is one field of a Patch, with JSON merge patch meaning: the zero
// Field leaves the link's value alone, Null clears it, and otherwise Value
// replaces it.
type Field[T any] struct {
	Set   bool // the field was given
	Null  bool // given as null: clear it
	Value T
}

// To returns a Field that sets v.
func To[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }

// Cleared returns a Field that clears the value.
func Cleared[T any]() Field[T] { return Field[T]{Set: true, Null: true} }

// Patch is an edit of a link. The code, id and creation time never change.
type Patch struct {
	URL            Field[string]
	ExpiresAt      Field[time.Time]
	Title          Field[string]
	Tags           Field[[]string]
	Disabled       Field[bool] // null: enabled
	DisabledReason Field[string]
	ValidFrom      Field[time.Time]
	MaxVisits      Field[int64]
	Password       Field[string] // the password itself; stored hashed
	ForwardQuery   Field[bool]   // null: false
	Rules          Field[[]Rule]
}

// Limits on what a link may carry.
const (
	MaxTitleLength  = 200 // characters
	MaxReasonLength = 500 // characters
	MaxTags         = 20
	MaxTagLength    = 50 // characters
	MaxRules        = 20
	MaxPassword     = 256 // bytes
	MaxVisitsLimit  = 1_000_000_000_000
)

// Errors about links that cannot redirect now.
var (
	ErrDisabled = &Error{Kind: Gone, Code: "link_disabled", Message: "Its owner or an administrator disabled this link; it no longer leads anywhere."}
	// ErrNotYetValid is a link whose valid_from is still ahead. It is
	// answered as a missing link (404), so that a link prepared for a
	// launch does not reveal itself, but with a code of its own.
	ErrNotYetValid = &Error{Kind: NotFound, Code: "link_not_yet_valid", Message: "This link is not active yet."}
	errNoEditor    = errors.New("link: this service cannot edit links")
	errNoVisitor   = errors.New("link: this service cannot count visits")
	errNoVerifier  = errors.New("link: this service cannot check passwords")
)

// Update applies p to the link for c if pr may manage it, and returns the
// link as stored afterwards. Rule violations are *Error values of Kind
// Invalid, naming the field; a link pr may not see is ErrNotFound.
func (s *Service) Update(ctx context.Context, c Code, p Patch, pr Principal) (Link, error) {
	if s.editor == nil {
		return Link{}, errNoEditor
	}
	if !ValidCode(c) {
		return Link{}, ErrNotFound
	}
	return s.update(ctx, c, p, pr, func(edit func(*Link) error) (Link, Link, error) {
		return s.editor.Update(ctx, c, edit)
	})
}

// update applies p to a link for pr through store, which runs the edit
// on the link in one transaction.
func (s *Service) update(ctx context.Context, c Code, p Patch, pr Principal,
	store func(edit func(*Link) error) (Link, Link, error)) (Link, error) {
	// Hash before the transaction: hashing takes tens of milliseconds,
	// which the row lock should not be held for.
	hash, err := s.hashPassword(ctx, p.Password)
	if err != nil {
		return Link{}, err
	}
	before, after, err := store(func(l *Link) error {
		if !visible(*l, pr) {
			return ErrNotFound
		}
		return s.apply(l, p, hash, s.now().UTC().Truncate(time.Microsecond))
	})
	if err != nil {
		return Link{}, fmt.Errorf("update %s: %w", c, err)
	}
	if s.edited != nil {
		s.edited(before, after, pr)
	}
	return after, nil
}

// DisableTo disables every live link whose destination host is one of
// hosts or under one, giving reason, and returns how many it disabled. It
// is for blocklists: a list update that covers a live link disables it.
// The edit hook sees each with the zero Principal: the service itself.
func (s *Service) DisableTo(ctx context.Context, hosts []string, reason string) (int, error) {
	if s.editor == nil {
		return 0, errNoEditor
	}
	canon := make([]string, 0, len(hosts))
	for _, h := range hosts {
		c, err := CanonicalHost(strings.TrimSuffix(h, "."))
		if err != nil || c == "" {
			continue
		}
		canon = append(canon, strings.TrimSuffix(c, "."))
	}
	if len(canon) == 0 {
		return 0, nil
	}
	links, err := s.editor.LinksTo(ctx, canon)
	if err != nil {
		return 0, fmt.Errorf("disable links to %d hosts: %w", len(canon), err)
	}
	reason = truncateRunes(reason, MaxReasonLength)
	n := 0
	for _, found := range links {
		changed := false
		before, after, err := s.updateLink(ctx, found, func(l *Link) error {
			if !l.DisabledAt.IsZero() {
				return nil
			}
			changed = true
			l.DisabledAt = s.now().UTC().Truncate(time.Microsecond)
			l.DisabledReason = reason
			return nil
		})
		switch {
		case errors.Is(err, ErrNotFound):
			continue // deleted meanwhile
		case err != nil:
			return n, fmt.Errorf("disable %s: %w", found.Code, err)
		}
		if changed {
			n++
			if s.edited != nil {
				s.edited(before, after, Principal{})
			}
		}
	}
	return n, nil
}

func (s *Service) hashPassword(ctx context.Context, f Field[string]) (string, error) {
	if !f.Set || f.Null {
		return "", nil
	}
	if f.Value == "" || len(f.Value) > MaxPassword {
		return "", invalid("password", "invalid_password",
			fmt.Sprintf("The password must be 1 to %d bytes long; send null to remove it.", MaxPassword))
	}
	if s.hash == nil {
		return "", invalid("password", "passwords_unsupported", "This server does not protect links with passwords.")
	}
	h, err := s.hash(ctx, f.Value)
	if err != nil {
		return "", fmt.Errorf("hash link password: %w", err)
	}
	return h, nil
}

// apply changes l as p says, checking each value by the rules a create
// checks. hash is p.Password hashed.
func (s *Service) apply(l *Link, p Patch, hash string, now time.Time) error {
	if f := p.URL; f.Set {
		if f.Null {
			return invalid("url", "missing_url", "A link needs a URL; it cannot be removed.")
		}
		u, err := s.destination(f.Value, "url")
		if err != nil {
			return err
		}
		l.URL = u
	}
	if f := p.ExpiresAt; f.Set {
		if f.Null {
			l.ExpiresAt = time.Time{}
		} else {
			exp, err := expiry(CreateParams{ExpiresAt: f.Value}, now)
			if err != nil {
				return err
			}
			l.ExpiresAt = exp
		}
	}
	if f := p.Title; f.Set {
		t := strings.TrimSpace(f.Value)
		if err := text("title", t, MaxTitleLength); err != nil {
			return err
		}
		l.Title = t
	}
	if f := p.Tags; f.Set {
		tags, err := normalizeTags(f.Value)
		if err != nil {
			return err
		}
		l.Tags = tags
	}
	if err := applyDisabled(l, p, now); err != nil {
		return err
	}
	if f := p.ValidFrom; f.Set {
		switch {
		case f.Null:
			l.ValidFrom = time.Time{}
		case f.Value.IsZero() || f.Value.Year() < 1970 || f.Value.After(maxExpiry):
			return invalid("valid_from", "invalid_valid_from", "valid_from must be a time between 1970 and 9999.")
		default:
			l.ValidFrom = f.Value.UTC().Truncate(time.Microsecond)
		}
	}
	if !l.ValidFrom.IsZero() && !l.ExpiresAt.IsZero() && !l.ValidFrom.Before(l.ExpiresAt) {
		return invalid("valid_from", "invalid_valid_from", "valid_from must be before expires_at, or the link never works.")
	}
	if f := p.MaxVisits; f.Set {
		switch {
		case f.Null:
			l.MaxVisits = 0
		case f.Value < 1 || f.Value > MaxVisitsLimit:
			return invalid("max_visits", "invalid_max_visits",
				fmt.Sprintf("max_visits must be a whole number from 1 to %d; send null for no limit.", int64(MaxVisitsLimit)))
		default:
			l.MaxVisits = f.Value
		}
	}
	if f := p.Password; f.Set {
		l.PasswordHash = hash // empty when cleared
	}
	if f := p.ForwardQuery; f.Set {
		l.ForwardQuery = !f.Null && f.Value
	}
	if f := p.Rules; f.Set {
		var rules []Rule
		if !f.Null {
			var err error
			if rules, err = s.validRules(f.Value); err != nil {
				return err
			}
		}
		l.Rules = rules
	}
	return nil
}

func applyDisabled(l *Link, p Patch, now time.Time) error {
	reason := p.DisabledReason
	if reason.Set && !reason.Null {
		if err := text("disabled_reason", strings.TrimSpace(reason.Value), MaxReasonLength); err != nil {
			return err
		}
	}
	switch d := p.Disabled; {
	case d.Set && (d.Null || !d.Value):
		if reason.Set && !reason.Null && reason.Value != "" {
			return invalid("disabled_reason", "invalid_disabled_reason", "A reason goes with disabling a link, not with enabling it.")
		}
		l.DisabledAt, l.DisabledReason = time.Time{}, ""
		return nil
	case d.Set:
		if l.DisabledAt.IsZero() {
			l.DisabledAt = now
		}
	case reason.Set && l.DisabledAt.IsZero():
		if reason.Null || reason.Value == "" {
			return nil
		}
		return invalid("disabled_reason", "invalid_disabled_reason", "The link is not disabled; send \"disabled\": true with the reason.")
	}
	if reason.Set {
		l.DisabledReason = strings.TrimSpace(reason.Value)
		if reason.Null {
			l.DisabledReason = ""
		}
	}
	return nil
}

// destination normalizes and screens a destination URL given in field.
func (s *Service) destination(raw, field string) (string, error) {
	u, err := s.urls.Normalize(raw)
	if err != nil {
		var e *Error
		if field != "url" && errors.As(err, &e) {
			c := *e
			c.Field = field
			return "", &c
		}
		return "", err
	}
	if s.onOwnDomain(u) {
		return "", invalid(field, "url_self_reference", "Links to this shortener's own domains would loop; give the destination URL instead.")
	}
	if s.screen != nil {
		if reason, blocked := s.screen.Blocked(u); blocked {
			return "", invalid(field, "url_blocked", "This URL cannot be shortened: "+reason+".")
		}
	}
	return u, nil
}

// validRules checks the shape of rules and normalizes their destinations.
func (s *Service) validRules(rules []Rule) ([]Rule, error) {
	if len(rules) > MaxRules {
		return nil, invalid("rules", "invalid_rules", fmt.Sprintf("A link takes at most %d rules.", MaxRules))
	}
	if len(rules) == 0 {
		return nil, nil
	}
	out := make([]Rule, len(rules))
	for i, r := range rules {
		field := fmt.Sprintf("rules[%d]", i)
		w := r.When
		w.Device = strings.ToLower(w.Device)
		w.Country = strings.ToUpper(w.Country)
		w.Language = strings.ToLower(w.Language)
		switch {
		case w == Condition{}:
			return nil, invalid(field+".when", "invalid_rules", "Each rule needs a condition: device, country or language.")
		case w.Device != "" && w.Device != "ios" && w.Device != "android" && w.Device != "desktop":
			return nil, invalid(field+".when.device", "invalid_rules", "device must be ios, android or desktop.")
		case w.Country != "" && !letters(w.Country, 2):
			return nil, invalid(field+".when.country", "invalid_rules", "country must be a two-letter ISO 3166 code, like DE.")
		case w.Language != "" && !letters(w.Language, 2):
			return nil, invalid(field+".when.language", "invalid_rules", "language must be a two-letter ISO 639-1 code, like fr.")
		}
		u, err := s.destination(r.URL, field+".url")
		if err != nil {
			return nil, err
		}
		out[i] = Rule{When: w, URL: u}
	}
	return out, nil
}

func letters(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// normalizeTags trims and lower-cases tags, drops repeats and sorts them,
// as stores return them. Tags are matched exactly, so one spelling per tag avoids
// "Launch" and "launch" being two.
func normalizeTags(tags []string) ([]string, error) {
	if len(tags) > MaxTags {
		return nil, invalid("tags", "invalid_tags", fmt.Sprintf("A link takes at most %d tags.", MaxTags))
	}
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			return nil, invalid("tags", "invalid_tags", "Tags cannot be empty.")
		}
		if err := text("tags", t, MaxTagLength); err != nil {
			return nil, err
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	slices.Sort(out)
	return out, nil
}

// ValidTag reports whether t is a tag as stored: what normalizeTags leaves.
func ValidTag(t string) bool {
	n, err := normalizeTags([]string{t})
	return err == nil && len(n) == 1 && n[0] == t
}

// text checks free text given in field: valid UTF-8, at most max
// characters, no control or invisible formatting characters.
func text(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid(field, "invalid_"+field, "The "+field+" is not valid UTF-8 text.")
	}
	if utf8.RuneCountInString(s) > max {
		return invalid(field, "invalid_"+field, fmt.Sprintf("The %s is longer than %d characters.", field, max))
	}
	for _, r := range s {
		if unicode.IsControl(r) || invisible(r) {
			return invalid(field, "invalid_"+field, fmt.Sprintf("The %s holds the character %s, which is not allowed.", field, codePoint(r)))
		}
	}
	return nil
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// NormalizeTags returns tags as an edit would store them, or the error an
// edit would give, for imports that carry tags from elsewhere.
func NormalizeTags(tags []string) ([]string, error) { return normalizeTags(tags) }

// CheckTitle reports whether an edit would take title.
func CheckTitle(title string) error { return text("title", title, MaxTitleLength) }
