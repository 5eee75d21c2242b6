package cache

import "github.com/shortlinks/shortlinks/internal/config"

// WithDefaults fills what o leaves zero with the defaults of `shortlinks
// serve`, for tests.
func WithDefaults(o Options) Options {
	d := config.Default()
	if o.Size == 0 {
		o.Size = d.CacheSize
	}
	if o.TTL == 0 {
		o.TTL = d.LinkCacheTTL(true)
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = d.CacheNegativeTTL
	}
	if o.RedisTTL == 0 {
		o.RedisTTL = d.CacheRedisTTL
	}
	return o
}
