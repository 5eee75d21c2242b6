package account

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Session defaults: a working day of inactivity, and a week at most
// however active, after which a user signs in again.
const (
	DefaultIdleTimeout = 12 * time.Hour
	DefaultLifetime    = 7 * 24 * time.Hour
)

// CookieName names the session cookie. Over HTTPS it carries the __Host-
// prefix, which browsers accept only on a secure cookie for the whole host
// without a Domain, so no other subdomain can set or overwrite it.
const CookieName = "shortlinks_session"

// SessionStore keeps sessions for every instance to see: one row per
// session, with the user it belongs to so that all of a user's sessions
// can be ended at once. Tokens reach the store already hashed (SHA-256).
//
// FindSession returns the data of the session token if it expires after
// now, and false otherwise. CommitSession stores or replaces a session;
// userID is zero for a session nobody has signed in to. DeleteSession is a
// no-op for an unknown token. DeleteExpiredSessions removes sessions that
// expired at or before now and returns how many. AllSessions returns every
// session that expires after now, by token.
type SessionStore interface {
	FindSession(ctx context.Context, token string, now time.Time) ([]byte, bool, error)
	CommitSession(ctx context.Context, token string, userID int64, data []byte, expiry time.Time) error
	DeleteSession(ctx context.Context, token string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
	AllSessions(ctx context.Context, now time.Time) (map[string][]byte, error)
}

// SessionOptions configure Sessions.
type SessionOptions struct {
	// BaseURL is the address the dashboard is served at; when it is https
	// the cookie is Secure (and __Host- prefixed).
	BaseURL string
	// IdleTimeout ends a session unused for that long; zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Lifetime ends a session that long after sign-in however it is used;
	// zero means DefaultLifetime.
	Lifetime time.Duration
	// Log receives errors the session middleware meets; nil discards them.
	Log *slog.Logger
	// Now is the clock that decides whether a stored session has expired;
	// nil means time.Now. (The session manager reads time.Now itself to
	// set expiry times.)
	Now func() time.Time
}

// Keys of the values a session holds for this package.
const (
	keyUserID = "account.user"
	keyEpoch  = "account.epoch"
	keyAuthAt = "account.auth_at" // Unix microseconds of sign-in
)

// Sessions keeps signed-in users signed in, with server-side sessions in
// the database so that every instance accepts them. Its Manager's
// LoadAndSave middleware wraps the dashboard; SignIn, SignOut and Current
// work on the request context it loads.
type Sessions struct {
	manager *scs.SessionManager
	users   *Service
}

// NewSessions returns Sessions for the users of users, stored in store.
func NewSessions(users *Service, store SessionStore, opts SessionOptions) (*Sessions, error) {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.IdleTimeout > opts.Lifetime {
		return nil, fmt.Errorf("sessions: idle timeout %v is longer than the lifetime %v", opts.IdleTimeout, opts.Lifetime)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	secure := false
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("sessions: base URL %q is not an http(s) URL", opts.BaseURL)
		}
		secure = u.Scheme == "https"
	}

	m := scs.New()
	m.Store = &scsStore{store: store, now: opts.Now}
	m.Codec = codec{}
	m.IdleTimeout = opts.IdleTimeout
	m.Lifetime = opts.Lifetime
	// The database holds hashes of the tokens: a copy of it (a backup, a
	// replica) does not hand out sessions.
	m.HashTokenInStore = true
	m.Cookie.Name = CookieName
	if secure {
		m.Cookie.Name = "__Host-" + CookieName
	}
	m.Cookie.HttpOnly = true
	m.Cookie.Secure = secure
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Path = "/"
	m.Cookie.Domain = ""
	m.Cookie.Persist = true
	log := opts.Log
	m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		log.ErrorContext(r.Context(), "session", "err", err)
		http.Error(w, "Sessions are not available right now; try again shortly.", http.StatusServiceUnavailable)
	}
	return &Sessions{manager: m, users: users}, nil
}

// Manager returns the session manager, for its LoadAndSave middleware.
// The dashboard replaces its ErrorFunc with its own error page.
func (s *Sessions) Manager() *scs.SessionManager { return s.manager }

// SignIn makes the session of ctx one of u's, under a new token, so that a
// token planted before signing in (session fixation) is worth nothing.
func (s *Sessions) SignIn(ctx context.Context, u User) error {
	if err := s.manager.RenewToken(ctx); err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	s.manager.Put(ctx, keyUserID, u.ID)
	s.manager.Put(ctx, keyEpoch, u.SessionEpoch)
	s.manager.Put(ctx, keyAuthAt, s.users.now().UnixMicro())
	return nil
}

// SignOut ends the session of ctx.
func (s *Sessions) SignOut(ctx context.Context) error {
	if err := s.manager.Destroy(ctx); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// Current returns the user signed in to the session of ctx, or
// ErrNotSignedIn when nobody is, the user is disabled, or their sessions
// were ended after this one began (a password reset, signing out
// everywhere). A session found invalid is ended.
func (s *Sessions) Current(ctx context.Context) (User, error) {
	id := s.manager.GetInt64(ctx, keyUserID)
	if id == 0 {
		return User{}, ErrNotSignedIn
	}
	u, _, err := s.users.store.UserByID(ctx, id)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, s.end(ctx)
	}
	if err != nil {
		return User{}, fmt.Errorf("session user: %w", err)
	}
	// The epoch check, rather than the deleted rows alone, is what ends
	// sessions everywhere: a request already under way when they were
	// deleted stores its session again when it finishes.
	if u.Disabled() || s.manager.GetInt64(ctx, keyEpoch) != u.SessionEpoch {
		return User{}, s.end(ctx)
	}
	return u, nil
}

// SignedInAt returns when the session of ctx was signed in to, or the zero
// time, for pages that ask for the password again after a while.
func (s *Sessions) SignedInAt(ctx context.Context) time.Time {
	us := s.manager.GetInt64(ctx, keyAuthAt)
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func (s *Sessions) end(ctx context.Context) error {
	if err := s.manager.Destroy(ctx); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return ErrNotSignedIn
}

// scsStore adapts a SessionStore to scs, with contexts, reading the user
// of each session from the header codec writes.
type scsStore struct {
	store SessionStore
	now   func() time.Time
}

var (
	_ scs.CtxStore         = (*scsStore)(nil)
	_ scs.IterableCtxStore = (*scsStore)(nil)
)

func (s *scsStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, ok, err := s.store.FindSession(ctx, token, s.now())
	if err != nil || !ok {
		return nil, false, err
	}
	if _, _, err := header(b); err != nil {
		// Written by another version, or damaged: start afresh rather
		// than fail every request that presents the cookie.
		return nil, false, nil
	}
	return b, true, nil
}

func (s *scsStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	uid, _, err := header(b)
	if err != nil {
		return err
	}
	return s.store.CommitSession(ctx, token, uid, b, expiry.UTC().Truncate(time.Microsecond))
}

func (s *scsStore) DeleteCtx(ctx context.Context, token string) error {
	return s.store.DeleteSession(ctx, token)
}

func (s *scsStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	return s.store.AllSessions(ctx, s.now())
}

func (s *scsStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *scsStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s *scsStore) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

func (s *scsStore) All() (map[string][]byte, error) { return s.AllCtx(context.Background()) }

// codec encodes sessions as scs's gob encoding behind a small header that
// names the signed-in user: a version byte, then the user id as a varint.
// The store reads the header to file each session under its user without
// decoding the rest.
type codec struct{}

const codecVersion = 1

func (codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	uid, _ := values[keyUserID].(int64)
	body, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(body))
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(uid))
	return append(b, body...), nil
}

func (codec) Decode(b []byte) (time.Time, map[string]any, error) {
	_, n, err := header(b)
	if err != nil {
		return time.Time{}, nil, err
	}
	return scs.GobCodec{}.Decode(b[n:])
}

// header returns the user id that b, an encoded session, names and the
// length of its header.
func header(b []byte) (uid int64, n int, err error) {
	if len(b) == 0 || b[0] != codecVersion {
		return 0, 0, errors.New("session: unknown encoding")
	}
	v, m := binary.Uvarint(b[1:])
	if m <= 0 || v > 1<<63-1 {
		return 0, 0, errors.New("session: bad header")
	}
	return int64(v), 1 + m, nil
}
