package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/web"
)

// accountEngine is an engine that keeps users, their sessions and the
// audit log; both engines do.
type accountEngine interface {
	account.Store
	account.SessionStore
	audit.Store
}

func (s *Storage) accountEngine() (accountEngine, error) {
	e, ok := s.Engine.(accountEngine)
	if !ok {
		return nil, errors.New("this database engine keeps no users")
	}
	return e, nil
}

// Accounts returns the user service over this storage, recording its
// changes in the audit log, for the server and the user commands alike.
// opts' Audit and Log are set here.
func (s *Storage) Accounts(log *slog.Logger, opts account.Options) (*account.Service, error) {
	e, err := s.accountEngine()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.Audit = audit.New(e, nil, log)
	opts.Log = log
	return account.New(e, opts), nil
}

// accounts is what the server runs for people who sign in: the users,
// their sessions, and the janitor that clears expired sessions away.
type accounts struct {
	users    *account.Service
	sessions *account.Sessions
	janitor  *account.Janitor
}

// openAccounts builds the accounts of the server. Sign-in attempts are
// limited in Redis, shared by every instance, when there is one. The first
// administrator is made from the configuration when there are no users
// yet.
func openAccounts(ctx context.Context, cfg config.Config, st *Storage, rdb redis.UniversalClient, log *slog.Logger) (*accounts, error) {
	e, err := st.accountEngine()
	if err != nil {
		return nil, err
	}
	opts := account.Options{}
	if rdb == nil {
		opts.EmailLimiter = ratelimit.NewLocal(account.DefaultEmailLimit)
		opts.AddrLimiter = ratelimit.NewLocal(account.DefaultAddrLimit)
	} else {
		// The in-process fallbacks are counted by the create limiter's
		// counter already; these register none of their own.
		sopts := ratelimit.SharedOptions{Prefix: cfg.RedisKeyPrefix, Timeout: cfg.RedisTimeout}
		if opts.EmailLimiter, err = ratelimit.NewShared(rdb, account.DefaultEmailLimit, sopts); err != nil {
			return nil, err
		}
		if opts.AddrLimiter, err = ratelimit.NewShared(rdb, account.DefaultAddrLimit, sopts); err != nil {
			return nil, err
		}
	}
	users, err := st.Accounts(log, opts)
	if err != nil {
		return nil, err
	}
	if cfg.AdminEmail != "" || cfg.AdminPassword != "" {
		u, made, err := users.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return nil, fmt.Errorf("admin-email, admin-password: %w", err)
		}
		if made {
			log.Info("made the first administrator", "email", u.Email, "user_id", u.ID)
		}
	}
	sessions, err := account.NewSessions(users, e, account.SessionOptions{
		BaseURL:     cfg.BaseURL,
		IdleTimeout: cfg.SessionIdleTimeout,
		Lifetime:    cfg.SessionLifetime,
		Log:         log,
	})
	if err != nil {
		return nil, err
	}
	return &accounts{users: users, sessions: sessions, janitor: account.NewJanitor(e, 0, log)}, nil
}

// runJanitor sweeps expired sessions until ctx ends; the returned wait
// blocks until it has stopped.
func (a *App) runJanitor(ctx context.Context) (wait func()) {
	if a.accounts == nil {
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.accounts.janitor.Run(ctx) })
	return wg.Wait
}

// dashboard is the signed-in side of pages, over the server's services.
func (a *App) dashboard(pages *web.Pages, clientIP func(*http.Request) netip.Addr, clicks clickTotals, imports web.Imports,
	domains *link.Domains, counts link.DomainCounter) (*web.Dashboard, error) {
	opts := web.DashboardOptions{
		Users: a.accounts.users, Sessions: a.accounts.sessions, Links: a.links, Keys: a.keys, ClientIP: clientIP, Clicks: clicks,
		Imports: imports, DomainCounts: counts,
	}
	if domains != nil {
		opts.Domains = domains
	}
	return pages.Dashboard(opts)
}
