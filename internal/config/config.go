// Package config holds the server's settings: their defaults, where they are
// read from (flags, SHORTLINKS_* environment variables, an optional YAML
// file), how they are checked, and how they are shown with secrets masked.
//
// A setting given as a flag wins over the environment, which wins over the
// config file, which wins over the default.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// Config is everything `shortlinks serve` reads from its environment.
type Config struct {
	Listen  string
	BaseURL string

	DatabaseURL         string
	DatabaseReplicaURLs []string
	DatabaseMaxConns    int
	DatabaseTimeout     time.Duration
	AutoMigrate         bool

	RedisURL       string
	RedisTimeout   time.Duration
	RedisKeyPrefix string

	CodeKey        string
	RequireAPIKey  bool
	RedirectStatus int
	CacheControl   string
	MaxURLLength   int

	CreateRate     float64
	CreateBurst    int
	TrustedProxies []netip.Prefix

	CacheSize        int
	CacheTTL         time.Duration
	CacheNegativeTTL time.Duration
	CacheRedisTTL    time.Duration

	LogLevel          string
	LogFormat         string
	LogRequests       string
	LogRedirectSample float64

	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	MetricsListen   string
	DebugListen     string
}

// setting describes one key: its flag, environment variable and file key
// are all derived from Name.
type setting struct {
	Name    string
	Default string
	Usage   string
	List    bool
	Bool    bool
	Secret  bool
}

// Settings lists every setting in the order the docs show them.
var Settings = []setting{
	{Name: "listen", Default: ":8080", Usage: "address to serve HTTP on"},
	{Name: "base-url", Default: "", Usage: "origin used in short links, like https://sho.rt (default: http://localhost and the listen port)"},
	{Name: "database-url", Default: "sqlite:shortlinks.db", Usage: "sqlite:PATH, or postgres://user:pass@host/db", Secret: true},
	{Name: "database-replica-urls", Default: "", Usage: "PostgreSQL read replicas for redirects and reads (comma-separated)", List: true, Secret: true},
	{Name: "database-max-conns", Default: "20", Usage: "largest PostgreSQL connection pool per database"},
	{Name: "database-timeout", Default: "3s", Usage: "deadline for connecting to and querying the database"},
	{Name: "auto-migrate", Default: "false", Usage: "apply pending PostgreSQL migrations at start (SQLite always migrates)", Bool: true},
	{Name: "redis-url", Default: "", Usage: "Redis for the shared cache and rate limits: redis://host:6379/0, redis-sentinel://host1:26379,host2:26379/master, redis-cluster://host1:7000,host2:7001 (rediss variants use TLS)", Secret: true},
	{Name: "redis-timeout", Default: "50ms", Usage: "deadline for each Redis command"},
	{Name: "redis-key-prefix", Default: "shortlinks:", Usage: "start of every Redis key and channel name, to share one Redis between deployments"},
	{Name: "code-key", Default: "", Usage: "64 hex digits keying the code permutation (default: generated once and kept in the database)", Secret: true},
	{Name: "require-api-key", Default: "false", Usage: "refuse to create links without an API key", Bool: true},
	{Name: "redirect-status", Default: "302", Usage: "status of redirects: 301, 302, 307 or 308"},
	{Name: "cache-control", Default: "private, max-age=90", Usage: "Cache-Control header on redirects (empty: none)"},
	{Name: "max-url-length", Default: "8192", Usage: "longest destination URL accepted, in bytes"},
	{Name: "rate-limit-create", Default: "1", Usage: "link creations per second allowed per client address (0: no limit)"},
	{Name: "rate-limit-create-burst", Default: "20", Usage: "creations a client may make at once before the rate applies"},
	{Name: "trusted-proxies", Default: "", Usage: "addresses or CIDRs whose X-Forwarded-For is believed (comma-separated)", List: true},
	{Name: "cache-size", Default: "1000000", Usage: "links kept in the in-process cache"},
	{Name: "cache-ttl", Default: "60s", Usage: "longest a cached link is served without asking storage again"},
	{Name: "cache-negative-ttl", Default: "10s", Usage: "how long an unknown code is remembered as unknown"},
	{Name: "cache-redis-ttl", Default: "10m", Usage: "longest a link stays in the Redis cache tier"},
	{Name: "log-level", Default: "info", Usage: "debug, info, warn or error"},
	{Name: "log-format", Default: "json", Usage: "json or text"},
	{Name: "log-requests", Default: "api", Usage: "which requests to log: all, api (every request but redirects, which are sampled), errors or none"},
	{Name: "log-redirect-sample", Default: "0.001", Usage: "share of redirects logged when log-requests is api, from 0 (none) to 1 (all); failed redirects are always logged"},
	{Name: "shutdown-timeout", Default: "15s", Usage: "how long to let requests finish after SIGTERM"},
	{Name: "drain-delay", Default: "0s", Usage: "how long /readyz answers 503 after SIGTERM before the listener closes, so load balancers stop sending first (5s suits Kubernetes)"},
	{Name: "metrics-listen", Default: "", Usage: "address to serve /metrics on instead of the main listener, like :9090 (empty: the main listener)"},
	{Name: "debug-listen", Default: "", Usage: "address for Go's pprof profiling endpoints, like 127.0.0.1:6060 (empty: off; never expose it publicly)"},
}

// EnvName is the environment variable for a setting.
func EnvName(name string) string {
	return "SHORTLINKS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// AddFlags registers every setting as a flag on fs, plus --config.
func AddFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML file of settings (env SHORTLINKS_CONFIG)")
	for _, s := range Settings {
		usage := s.Usage + " (env " + EnvName(s.Name) + ")"
		switch {
		case s.Bool:
			fs.Bool(s.Name, s.Default == "true", usage)
		case s.List:
			fs.StringSlice(s.Name, nil, usage)
		default:
			fs.String(s.Name, s.Default, usage)
		}
	}
}

// Load reads settings from the flags in fs (registered by AddFlags), the
// environment in environ (KEY=VALUE pairs) and the config file, and checks
// them. It reports every problem at once.
func Load(fs *pflag.FlagSet, environ []string) (Config, error) {
	k := koanf.New(".")
	path, _ := fs.GetString("config")
	if path == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "SHORTLINKS_CONFIG="); ok {
				path = v
			}
		}
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
		for _, key := range k.Keys() {
			if !known(key) {
				return Config{}, fmt.Errorf("config file %s: unknown setting %q", path, key)
			}
		}
	}
	err := k.Load(env.Provider(".", env.Opt{
		Prefix:      "SHORTLINKS_",
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(key, v string) (string, any) {
			name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(key, "SHORTLINKS_"), "_", "-"))
			if !known(name) {
				return "", nil // not a setting (SHORTLINKS_CONFIG, client variables)
			}
			return name, v
		},
	}), nil)
	if err != nil {
		return Config{}, fmt.Errorf("environment: %w", err)
	}
	// Unchanged flags only fill keys that nothing above has set.
	if err := k.Load(posflag.Provider(fs, ".", k), nil); err != nil {
		return Config{}, fmt.Errorf("flags: %w", err)
	}
	return parse(k)
}

func known(name string) bool {
	for _, s := range Settings {
		if s.Name == name {
			return true
		}
	}
	return false
}

// parse converts raw values, whatever their source's types, and validates.
func parse(k *koanf.Koanf) (Config, error) {
	var errs []error
	str := func(name string) string {
		v := k.Get(name)
		if v == nil {
			return ""
		}
		if l, ok := v.([]any); ok {
			parts := make([]string, len(l))
			for i, p := range l {
				parts[i] = fmt.Sprint(p)
			}
			return strings.Join(parts, ",")
		}
		if l, ok := v.([]string); ok {
			return strings.Join(l, ",")
		}
		return strings.TrimSpace(fmt.Sprint(v))
	}
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s (--%s, %s): %s", name, name, EnvName(name), fmt.Sprintf(format, args...)))
	}
	integer := func(name string, lo, hi int) int {
		n, err := strconv.Atoi(str(name))
		if err != nil || n < lo || n > hi {
			bad(name, "%q is not a whole number from %d to %d", str(name), lo, hi)
		}
		return n
	}
	nonNegative := func(name string) time.Duration {
		d, err := time.ParseDuration(str(name))
		if err != nil || d < 0 {
			bad(name, "%q is not a duration like 0s, 500ms or 10s", str(name))
		}
		return d
	}
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(str(name))
		if err != nil || d <= 0 {
			bad(name, "%q is not a positive duration like 500ms or 10s", str(name))
		}
		return d
	}
	boolean := func(name string) bool {
		b, err := strconv.ParseBool(str(name))
		if err != nil {
			bad(name, "%q is not true or false", str(name))
		}
		return b
	}
	list := func(name string) []string {
		var out []string
		for _, p := range strings.Split(str(name), ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	oneOf := func(name string, allowed ...string) string {
		v := str(name)
		for _, a := range allowed {
			if v == a {
				return v
			}
		}
		bad(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
		return v
	}

	c := Config{
		Listen:              str("listen"),
		BaseURL:             strings.TrimSuffix(str("base-url"), "/"),
		DatabaseURL:         str("database-url"),
		DatabaseReplicaURLs: list("database-replica-urls"),
		DatabaseMaxConns:    integer("database-max-conns", 1, 10000),
		DatabaseTimeout:     duration("database-timeout"),
		AutoMigrate:         boolean("auto-migrate"),
		RedisURL:            str("redis-url"),
		RedisTimeout:        duration("redis-timeout"),
		RedisKeyPrefix:      str("redis-key-prefix"),
		CodeKey:             str("code-key"),
		RequireAPIKey:       boolean("require-api-key"),
		RedirectStatus:      integer("redirect-status", 301, 308),
		CacheControl:        str("cache-control"),
		MaxURLLength:        integer("max-url-length", 64, 1<<20),
		CreateBurst:         integer("rate-limit-create-burst", 1, 1<<20),
		CacheSize:           integer("cache-size", 1, 1<<31-1),
		CacheTTL:            duration("cache-ttl"),
		CacheNegativeTTL:    duration("cache-negative-ttl"),
		CacheRedisTTL:       duration("cache-redis-ttl"),
		LogLevel:            oneOf("log-level", "debug", "info", "warn", "error"),
		LogFormat:           oneOf("log-format", "json", "text"),
		LogRequests:         oneOf("log-requests", "all", "api", "errors", "none"),
		ShutdownTimeout:     duration("shutdown-timeout"),
		DrainDelay:          nonNegative("drain-delay"),
		MetricsListen:       str("metrics-listen"),
		DebugListen:         str("debug-listen"),
	}

	switch c.RedirectStatus {
	case 301, 302, 307, 308:
	default:
		bad("redirect-status", "%d is not 301, 302, 307 or 308", c.RedirectStatus)
	}
	rate, err := strconv.ParseFloat(str("rate-limit-create"), 64)
	if err != nil || rate < 0 {
		bad("rate-limit-create", "%q is not a number of creations per second, 0 or more", str("rate-limit-create"))
	}
	c.CreateRate = rate

	sample, err := strconv.ParseFloat(str("log-redirect-sample"), 64)
	if err != nil || sample < 0 || sample > 1 {
		bad("log-redirect-sample", "%q is not a share from 0 to 1", str("log-redirect-sample"))
	}
	c.LogRedirectSample = sample
	for _, name := range []string{"debug-listen", "metrics-listen"} {
		if v := str(name); v != "" {
			if _, _, err := net.SplitHostPort(v); err != nil {
				bad(name, "%q is not host:port or :port", v)
			}
		}
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen", "%q is not host:port or :port", c.Listen)
	}
	if c.BaseURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.BaseURL = "http://" + net.JoinHostPort(host, port)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.User != nil {
		bad("base-url", "%q is not an origin like https://sho.rt", c.BaseURL)
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") &&
		!strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("database-url", "must start with sqlite:, postgres:// or postgresql://")
	}
	if strings.HasPrefix(c.DatabaseURL, "sqlite:") && len(c.DatabaseReplicaURLs) > 0 {
		bad("database-replica-urls", "replicas need a PostgreSQL database-url")
	}
	for _, r := range c.DatabaseReplicaURLs {
		if !strings.HasPrefix(r, "postgres://") && !strings.HasPrefix(r, "postgresql://") {
			bad("database-replica-urls", "%q is not a postgres:// URL", Mask(r))
		}
	}
	if scheme, _, _ := strings.Cut(c.RedisURL, "://"); c.RedisURL != "" && !validRedisScheme(scheme) {
		bad("redis-url", "must start with redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster:// or rediss-cluster://")
	}
	if c.CodeKey != "" && !isHexKey(c.CodeKey) {
		bad("code-key", "must be 64 hex digits (32 bytes); make one with 'openssl rand -hex 32'")
	}
	for _, p := range list("trusted-proxies") {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				bad("trusted-proxies", "%q is not an address or CIDR", p)
				continue
			}
			prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
	}
	return c, errors.Join(errs...)
}

func validRedisScheme(s string) bool {
	switch s {
	case "redis", "rediss", "redis-sentinel", "rediss-sentinel", "redis-cluster", "rediss-cluster":
		return true
	}
	return false
}

func isHexKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Mask hides the password in a URL-shaped secret.
func Mask(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return maskUnparsed(raw)
	}
	if u.User == nil {
		return raw
	}
	return u.Redacted()
}

// maskUnparsed hides the password in a URL that net/url rejects, such as a
// Redis URL listing several [ipv6]:port hosts.
func maskUnparsed(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if !ok || at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return raw
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// Redacted returns the effective settings for logging, with secrets masked.
func (c Config) Redacted() map[string]any {
	masked := func(s string) string {
		if s == "" {
			return ""
		}
		return "********"
	}
	replicas := make([]string, len(c.DatabaseReplicaURLs))
	for i, r := range c.DatabaseReplicaURLs {
		replicas[i] = Mask(r)
	}
	proxies := make([]string, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		proxies[i] = p.String()
	}
	return map[string]any{
		"listen": c.Listen, "base-url": c.BaseURL,
		"database-url": Mask(c.DatabaseURL), "database-replica-urls": replicas,
		"database-max-conns": c.DatabaseMaxConns, "database-timeout": c.DatabaseTimeout.String(),
		"auto-migrate": c.AutoMigrate,
		"redis-url":    Mask(c.RedisURL), "redis-timeout": c.RedisTimeout.String(), "redis-key-prefix": c.RedisKeyPrefix,
		"code-key": masked(c.CodeKey), "require-api-key": c.RequireAPIKey,
		"redirect-status": c.RedirectStatus, "cache-control": c.CacheControl, "max-url-length": c.MaxURLLength,
		"rate-limit-create": c.CreateRate, "rate-limit-create-burst": c.CreateBurst, "trusted-proxies": proxies,
		"cache-size": c.CacheSize, "cache-ttl": c.CacheTTL.String(), "cache-negative-ttl": c.CacheNegativeTTL.String(),
		"cache-redis-ttl": c.CacheRedisTTL.String(),
		"log-level":       c.LogLevel, "log-format": c.LogFormat, "log-requests": c.LogRequests,
		"shutdown-timeout": c.ShutdownTimeout.String(), "debug-listen": c.DebugListen,
	}
}
