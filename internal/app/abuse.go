package app

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/routes"
)

// limiterFor rations l per key: in Redis, shared by every instance, when
// there is one, and in process otherwise; nil when rate is zero. Redis
// keys of different limits differ by their own prefixes ("create-key:",
// "report:"). Its fallbacks are not counted: the create limiter's counter
// already says when Redis is not answering.
func limiterFor(cfg config.Config, rdb redis.UniversalClient, rate float64, burst int) (routes.Limiter, error) {
	if rate <= 0 {
		return nil, nil
	}
	l := ratelimit.Limit{Rate: rate, Burst: burst}
	if rdb == nil {
		return ratelimit.NewLocal(l), nil
	}
	return ratelimit.NewShared(rdb, l, ratelimit.SharedOptions{Prefix: cfg.RedisKeyPrefix, Timeout: cfg.RedisTimeout})
}

// keyLimiter is the limit on creates per API key, as httpapi wants it.
func keyLimiter(cfg config.Config, rdb redis.UniversalClient) (httpapi.KeyLimiter, error) {
	l, err := limiterFor(cfg, rdb, cfg.KeyCreateRate, cfg.KeyCreateBurst)
	if l == nil || err != nil {
		return nil, err // a nil interface, not a nil *Local
	}
	return l, nil
}

// auditedLinks is the link service with an admin's delete of someone
// else's link recorded in the audit log. A delete by the link's own key is
// not an admin action and is not recorded.
type auditedLinks struct {
	*link.Service
	audit *audit.Log
}

// Delete deletes as link.Service.Delete does, then records the delete if
// by is an admin and the link was not made with by's key.
func (a auditedLinks) Delete(ctx context.Context, c link.Code, by link.Principal) error {
	if !by.Admin {
		return a.Service.Delete(ctx, c, by)
	}
	l, err := a.Service.Get(ctx, c, by)
	if err != nil {
		return err
	}
	if err := a.Service.Delete(ctx, c, by); err != nil {
		return err
	}
	if l.Owner != by.KeyID {
		detail := map[string]any{"url": l.URL}
		if l.Owner != 0 {
			detail["owner_key_id"] = l.Owner
		}
		// The delete stands if the entry cannot be stored; the audit
		// log writes it to the error log instead.
		_ = a.audit.Link(ctx, audit.Actor{UserID: by.UserID, KeyID: by.KeyID}, audit.LinkDelete, string(c), detail)
	}
	return nil
}
