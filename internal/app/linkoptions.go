package app

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/password"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/web"
)

// Password attempts on one link from one client: five at once, then one
// every twelve seconds (five a minute).
const (
	passwordRate  = 5.0 / 60
	passwordBurst = 5
)

// linkOptions gives the link service what the redirects of links with
// options need: visits counted in the database itself (never through the
// cache), so that every instance sharing it stops a link exactly at its
// limit, and the hasher that checks link passwords.
func linkOptions(opts *link.Options, visits link.Visitor, h *password.Hasher) {
	opts.Visits = visits
	opts.VerifyPassword = func(ctx context.Context, hash, secret string) (bool, error) {
		ok, _, err := h.Verify(ctx, hash, secret)
		return ok, err
	}
}

// redirectOptions gives the API the password page, the client's address
// and, with --geoip-db, the countries that rules by country match.
func (a *App) redirectOptions(opts *httpapi.Options, pages *web.Pages, cfg config.Config) error {
	opts.PasswordForm = pages
	opts.ClientIP = clientIP(cfg)
	if cfg.GeoIPDB == "" {
		return nil
	}
	g, err := analytics.OpenGeoIP(cfg.GeoIPDB)
	if err != nil {
		return fmt.Errorf("geoip-db: %w", err)
	}
	a.closers = append(a.closers, g.Close)
	opts.Countries = g
	return nil
}

// passwordLimiter rations password attempts per link and client, in Redis
// when there is one, so that a guesser gains nothing by spreading attempts
// over instances.
func passwordLimiter(cfg config.Config, rdb redis.UniversalClient) (routes.Limiter, error) {
	return limiterFor(cfg, rdb, passwordRate, passwordBurst)
}
