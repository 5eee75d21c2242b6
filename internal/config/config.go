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
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	envprovider "github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/shortlinks/shortlinks/internal/environ"
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
	Compat         []string // other shorteners' APIs to serve: shlink, yourls
	RedirectStatus int
	CacheControl   string
	MaxURLLength   int

	CreateRate     float64
	CreateBurst    int
	KeyCreateRate  float64
	KeyCreateBurst int
	ReportRate     float64
	ReportBurst    int
	TrustedProxies []netip.Prefix

	CacheSize        int
	CacheTTL         time.Duration
	CacheNegativeTTL time.Duration
	// DomainReloadInterval is how often the short domains are read again
	// in case another instance's news of a change was lost.
	DomainReloadInterval time.Duration
	CacheRedisTTL        time.Duration

	LogLevel          string
	LogFormat         string
	LogRequests       string
	LogRedirectSample float64

	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	MetricsListen   string
	DebugListen     string

	ConfigEtcd               []string
	ConfigEtcdPrefix         string
	ReadTimeout              time.Duration
	IPv6Prefix               int
	QRRate                   float64
	QRBurst                  int
	Blocklists               []string
	ShortenerHosts           []string
	SafeBrowsing             SafeBrowsing
	Analytics                bool
	GeoIPDB                  string
	AnalyticsHonorDNT        bool
	AnalyticsVisitRetention  time.Duration
	AnalyticsRollupRetention time.Duration
	AnalyticsBuffer          int
	AnalyticsFlushInterval   time.Duration
	WorkerListen             string
	AnalyticsClaimIdle       time.Duration
	SessionIdleTimeout       time.Duration
	SessionLifetime          time.Duration
	AdminEmail               string
	AdminPassword            string
}

// SafeBrowsing configures Google Safe Browsing lookups of new links.
type SafeBrowsing struct {
	Key      string // empty: no lookups
	Endpoint string // empty: Google's
}

// Setting is one of the server's settings. The table of them, Settings, is
// the one place a setting is described: its Name is its flag (--name) and
// its key in the config file and gives its environment variable (EnvName);
// the Config field it fills gives its type (Type); Default, Usage and Secret
// say the rest. Flags, help, loading, Default and Redacted all follow it.
type Setting struct {
	Name    string
	Default string // as written on the command line; "" for none
	Usage   string
	Secret  bool // shown masked: a URL without its password, anything else not at all
	// Live settings take effect when the configuration is reloaded (the
	// config file changes, SIGHUP, a key in etcd); a change to any other
	// setting waits for a restart.
	Live bool

	field func(*Config) any // points at the setting's field in a Config
	rule  rule              // what values are allowed beyond the type's; zero: any
}

// rule restricts a setting's values beyond what its type allows.
type rule struct {
	want string // what a good value is, for messages: "a whole number from 1 to 10000"
	ok   func(v any) bool
}

func between(lo, hi int) rule {
	return rule{fmt.Sprintf("a whole number from %d to %d", lo, hi), func(v any) bool { n := v.(int); return n >= lo && n <= hi }}
}

func oneOf(allowed ...string) rule {
	return rule{"one of " + strings.Join(allowed, ", "), func(v any) bool { return slices.Contains(allowed, v.(string)) }}
}

var positive = rule{"a positive duration like 500ms or 10s", func(v any) bool { return v.(time.Duration) > 0 }}

// Settings lists every setting in the order the docs show them.
var Settings = []Setting{
	{Name: "listen", Default: ":8080", Usage: "address to serve HTTP on",
		field: func(c *Config) any { return &c.Listen }},
	{Name: "base-url", Default: "", Usage: "origin used in short links, like https://sho.rt (default: http://localhost and the listen port)",
		field: func(c *Config) any { return &c.BaseURL }},
	{Name: "database-url", Default: "sqlite:shortlinks.db", Usage: "sqlite:PATH, or postgres://user:pass@host/db", Secret: true,
		field: func(c *Config) any { return &c.DatabaseURL }},
	{Name: "database-replica-urls", Default: "", Usage: "PostgreSQL read replicas for redirects and reads (comma-separated)", Secret: true,
		field: func(c *Config) any { return &c.DatabaseReplicaURLs }},
	{Name: "database-max-conns", Default: "20", Usage: "largest PostgreSQL connection pool per database",
		field: func(c *Config) any { return &c.DatabaseMaxConns }, rule: between(1, 10000)},
	{Name: "database-timeout", Default: "3s", Usage: "deadline for connecting to and querying the database",
		field: func(c *Config) any { return &c.DatabaseTimeout }, rule: positive},
	{Name: "auto-migrate", Default: "false", Usage: "apply pending PostgreSQL migrations at start (SQLite always migrates)",
		field: func(c *Config) any { return &c.AutoMigrate }},
	{Name: "redis-url", Default: "", Usage: "Redis for the shared cache and rate limits: redis://host:6379/0, redis-sentinel://host1:26379,host2:26379/master, redis-cluster://host1:7000,host2:7001 (rediss variants use TLS)", Secret: true,
		field: func(c *Config) any { return &c.RedisURL }},
	{Name: "redis-timeout", Default: "50ms", Usage: "deadline for each Redis command",
		field: func(c *Config) any { return &c.RedisTimeout }, rule: positive},
	{Name: "redis-key-prefix", Default: "shortlinks:", Usage: "start of every Redis key and channel name, to share one Redis between deployments (empty: the default)",
		field: func(c *Config) any { return &c.RedisKeyPrefix }},
	{Name: "code-key", Default: "", Usage: "64 hex digits keying the code permutation (default: generated once and kept in the database)", Secret: true,
		field: func(c *Config) any { return &c.CodeKey }},
	{Name: "require-api-key", Default: "false", Usage: "refuse to create links without an API key",
		field: func(c *Config) any { return &c.RequireAPIKey }},
	{Name: "compat", Default: "", Usage: "other shorteners' APIs to serve as well, for their clients: shlink, yourls (comma-separated)",
		field: func(c *Config) any { return &c.Compat },
		rule: rule{"a list of shlink and yourls", func(v any) bool {
			return !slices.ContainsFunc(v.([]string), func(s string) bool { return s != "shlink" && s != "yourls" })
		}}},
	{Name: "redirect-status", Live: true, Default: "302", Usage: "status of redirects: 301, 302, 307 or 308",
		field: func(c *Config) any { return &c.RedirectStatus },
		rule:  rule{"301, 302, 307 or 308", func(v any) bool { return slices.Contains([]int{301, 302, 307, 308}, v.(int)) }}},
	{Name: "cache-control", Live: true, Default: "private, max-age=90", Usage: "Cache-Control header on redirects (empty: none)",
		field: func(c *Config) any { return &c.CacheControl }},
	{Name: "max-url-length", Default: "8192", Usage: "longest destination URL accepted, in bytes",
		field: func(c *Config) any { return &c.MaxURLLength }, rule: between(64, 1<<20)},
	{Name: "rate-limit-create", Live: true, Default: "1", Usage: "link creations per second allowed per client address (0: no limit)",
		field: func(c *Config) any { return &c.CreateRate },
		rule:  rule{"a number of creations per second, 0 or more", func(v any) bool { return v.(float64) >= 0 }}},
	{Name: "rate-limit-create-burst", Live: true, Default: "20", Usage: "creations a client may make at once before the rate applies",
		field: func(c *Config) any { return &c.CreateBurst }, rule: between(1, 1<<20)},
	{Name: "rate-limit-key-create", Default: "5", Usage: "link creations per second allowed per API key, on top of the per-address limit (0: no limit)",
		field: func(c *Config) any { return &c.KeyCreateRate },
		rule:  rule{"a number of creations per second, 0 or more", func(v any) bool { return v.(float64) >= 0 }}},
	{Name: "rate-limit-key-create-burst", Default: "100", Usage: "creations one API key may make at once before its rate applies",
		field: func(c *Config) any { return &c.KeyCreateBurst }, rule: between(1, 1<<20)},
	{Name: "rate-limit-report", Default: "0.05", Usage: "abuse reports per second allowed per client address (0: no limit)",
		field: func(c *Config) any { return &c.ReportRate },
		rule:  rule{"a number of reports per second, 0 or more", func(v any) bool { return v.(float64) >= 0 }}},
	{Name: "rate-limit-report-burst", Default: "5", Usage: "abuse reports a client may send at once before the rate applies",
		field: func(c *Config) any { return &c.ReportBurst }, rule: between(1, 1<<20)},
	{Name: "trusted-proxies", Default: "", Usage: "addresses or CIDRs whose X-Forwarded-For is believed (comma-separated)",
		field: func(c *Config) any { return &c.TrustedProxies }},
	{Name: "cache-size", Default: "1000000", Usage: "links kept in the in-process cache",
		field: func(c *Config) any { return &c.CacheSize }, rule: between(1, 1<<31-1)},
	{Name: "cache-ttl", Default: "0s", Usage: "longest a cached link is served from memory without asking storage again; 0s: 10m with SQLite or Redis, whose instances hear of every edit, 60s with PostgreSQL alone",
		field: func(c *Config) any { return &c.CacheTTL }},
	{Name: "cache-negative-ttl", Default: "10s", Usage: "how long an unknown code is remembered as unknown",
		field: func(c *Config) any { return &c.CacheNegativeTTL }, rule: positive},
	{Name: "cache-redis-ttl", Default: "10m", Usage: "longest a link stays in the Redis cache tier",
		field: func(c *Config) any { return &c.CacheRedisTTL }, rule: positive},
	{Name: "domain-reload-interval", Default: "15s", Usage: "how often the short domains are read again, in case news of a change from another instance was lost",
		field: func(c *Config) any { return &c.DomainReloadInterval }, rule: positive},
	{Name: "log-level", Live: true, Default: "info", Usage: "debug, info, warn or error",
		field: func(c *Config) any { return &c.LogLevel }, rule: oneOf("debug", "info", "warn", "error")},
	{Name: "log-format", Default: "json", Usage: "json or text",
		field: func(c *Config) any { return &c.LogFormat }, rule: oneOf("json", "text")},
	{Name: "log-requests", Live: true, Default: "api", Usage: "which requests to log: all, api (every request but redirects, which are sampled), errors or none",
		field: func(c *Config) any { return &c.LogRequests }, rule: oneOf("all", "api", "errors", "none")},
	{Name: "log-redirect-sample", Live: true, Default: "0.001", Usage: "share of redirects logged when log-requests is api, from 0 (none) to 1 (all); failed redirects are always logged",
		field: func(c *Config) any { return &c.LogRedirectSample },
		rule:  rule{"a share from 0 to 1", func(v any) bool { f := v.(float64); return f >= 0 && f <= 1 }}},
	{Name: "shutdown-timeout", Default: "15s", Usage: "how long to let requests finish after SIGTERM",
		field: func(c *Config) any { return &c.ShutdownTimeout }, rule: positive},
	{Name: "drain-delay", Default: "0s", Usage: "how long /readyz answers 503 after SIGTERM before the listener closes, so load balancers stop sending first (5s suits Kubernetes)",
		field: func(c *Config) any { return &c.DrainDelay }},
	{Name: "metrics-listen", Default: "", Usage: "address to serve /metrics on instead of the main listener, like :9090 (empty: the main listener)",
		field: func(c *Config) any { return &c.MetricsListen }},
	{Name: "debug-listen", Default: "", Usage: "address for Go's pprof profiling endpoints, like 127.0.0.1:6060 (empty: off; never expose it publicly)",
		field: func(c *Config) any { return &c.DebugListen }},
	{Name: "read-timeout", Default: "20s", Usage: "longest a client may take to send a whole request, headers and body, on any route; headers alone get at most 5s",
		field: func(c *Config) any { return &c.ReadTimeout }, rule: positive},
	{Name: "rate-limit-ipv6-prefix", Default: "64", Usage: "IPv6 clients share a rate-limit budget per prefix of this many bits (IPv4 clients have one each)",
		field: func(c *Config) any { return &c.IPv6Prefix }, rule: between(32, 128)},
	{Name: "rate-limit-qr", Default: "5", Usage: "QR images drawn per second allowed per client address (0: no limit)",
		field: func(c *Config) any { return &c.QRRate },
		rule:  rule{"a number of images per second, 0 or more", func(v any) bool { return v.(float64) >= 0 }}},
	{Name: "rate-limit-qr-burst", Default: "30", Usage: "QR images a client may fetch at once before the rate applies",
		field: func(c *Config) any { return &c.QRBurst }, rule: between(1, 1<<20)},
	{Name: "blocklist", Default: "", Usage: "list of domains or URLs refused as destinations, reloaded when the file changes: PATH, FORMAT:PATH or NAME=[FORMAT:]PATH (formats: domains, hosts, urls, csv; repeatable)",
		field: func(c *Config) any { return &c.Blocklists }},
	{Name: "shortener-hosts", Default: "", Usage: "other URL shorteners' domains refused as destinations, besides the built-in list (comma-separated)",
		field: func(c *Config) any { return &c.ShortenerHosts }},
	{Name: "safe-browsing-key", Default: "", Usage: "Google Safe Browsing v4 API key: new links are looked up after they are made (empty: off)", Secret: true,
		field: func(c *Config) any { return &c.SafeBrowsing.Key }},
	{Name: "safe-browsing-endpoint", Default: "", Usage: "Safe Browsing threatMatches:find URL (empty: Google's)",
		field: func(c *Config) any { return &c.SafeBrowsing.Endpoint }},
	{Name: "config-etcd", Default: "", Usage: "etcd endpoints (comma-separated, like http://10.0.0.21:2379) to read settings from, under config-etcd-prefix; they win over every other source and live ones apply at once",
		field: func(c *Config) any { return &c.ConfigEtcd }},
	{Name: "config-etcd-prefix", Default: "/shortlinks/config/", Usage: "etcd key prefix of the settings; a setting's key is the prefix and its name, like /shortlinks/config/rate-limit-create",
		field: func(c *Config) any { return &c.ConfigEtcdPrefix }},

	{Name: "analytics", Default: "true", Usage: "count clicks: per link by hour, referrer host, country, browser, OS and device, bots apart (false: record nothing)",
		field: func(c *Config) any { return &c.Analytics }},
	{Name: "geoip-db", Default: "", Usage: "MaxMind-format country or city database (GeoLite2, DB-IP Lite) to find clicks' countries (empty: countries unknown)",
		field: func(c *Config) any { return &c.GeoIPDB }},
	{Name: "analytics-honor-dnt", Default: "false", Usage: "for visitors sending DNT: 1 or Sec-GPC: 1, count the click and keep nothing else about it",
		field: func(c *Config) any { return &c.AnalyticsHonorDNT }},
	{Name: "analytics-visits-retention", Default: "720h", Usage: "how long individual visits are kept (0: none kept, and those kept before are deleted); the hourly and daily counts stay",
		field: func(c *Config) any { return &c.AnalyticsVisitRetention },
		rule:  rule{"a duration of 0 or more, like 720h", func(v any) bool { return v.(time.Duration) >= 0 }}},
	{Name: "analytics-rollup-retention", Default: "0s", Usage: "how long the hourly and daily click counts (and orphan visit counts) are kept (0: for ever); the totals of all time stay",
		field: func(c *Config) any { return &c.AnalyticsRollupRetention }},
	{Name: "analytics-buffer", Default: "8192", Usage: "clicks an instance holds between drains; beyond it clicks are dropped and counted, never waited for",
		field: func(c *Config) any { return &c.AnalyticsBuffer }, rule: between(64, 1<<22)},
	{Name: "analytics-flush-interval", Default: "1s", Usage: "how often an instance hands its clicks on (most of the delay before they show in stats)",
		field: func(c *Config) any { return &c.AnalyticsFlushInterval }, rule: positive},
	{Name: "worker-listen", Default: ":8081", Usage: "address 'shortlinks worker' serves /healthz, /readyz and /metrics on",
		field: func(c *Config) any { return &c.WorkerListen }},
	{Name: "analytics-claim-idle", Default: "30s", Usage: "how long a click batch may stay unacknowledged by a stopped worker before another worker takes it over",
		field: func(c *Config) any { return &c.AnalyticsClaimIdle }, rule: positive},

	{Name: "session-idle-timeout", Default: "12h", Usage: "dashboard sessions end after this long unused",
		field: func(c *Config) any { return &c.SessionIdleTimeout }, rule: positive},
	{Name: "session-lifetime", Default: "168h", Usage: "dashboard sessions end this long after signing in, however they are used",
		field: func(c *Config) any { return &c.SessionLifetime }, rule: positive},
	{Name: "admin-email", Default: "", Usage: "email of the first administrator, made at start when there are no users yet (with admin-password)",
		field: func(c *Config) any { return &c.AdminEmail }},
	{Name: "admin-password", Default: "", Usage: "password of the first administrator, 12 to 256 characters (used only when there are no users yet)", Secret: true,
		field: func(c *Config) any { return &c.AdminPassword }},
}

// Live reports whether the setting called name takes effect on reload.
func Live(name string) bool {
	s, ok := lookup(name)
	return ok && s.Live
}

// Type names the kind of value a setting takes, as --help shows it: string,
// int, float, bool, duration or list (comma-separated on the command line
// and in the environment, a list or a comma-separated string in the file).
func (s Setting) Type() string {
	switch s.field(&Config{}).(type) {
	case *int:
		return "int"
	case *float64:
		return "float"
	case *bool:
		return "bool"
	case *time.Duration:
		return "duration"
	case *[]string, *[]netip.Prefix:
		return "list"
	}
	return "string"
}

// EnvName is the environment variable for a setting.
func EnvName(name string) string {
	return "SHORTLINKS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// AddFlags registers every setting as a flag of its type on fs, plus
// --config.
func AddFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML file of settings (env SHORTLINKS_CONFIG)")
	for _, s := range Settings {
		usage := s.Usage + " (env " + EnvName(s.Name) + ")"
		// The defaults are checked by the tests (Default panics on a bad
		// one), so their errors are not handled here.
		switch s.field(&Config{}).(type) {
		case *bool:
			fs.Bool(s.Name, s.Default == "true", usage)
		case *int:
			n, _ := strconv.Atoi(s.Default)
			fs.Int(s.Name, n, usage)
		case *float64:
			f, _ := strconv.ParseFloat(s.Default, 64)
			fs.Float64(s.Name, f, usage)
		case *time.Duration:
			d, _ := time.ParseDuration(s.Default)
			fs.Duration(s.Name, d, usage)
			fs.Lookup(s.Name).DefValue = s.Default // as written: 60s, not 1m0s
		case *[]string, *[]netip.Prefix:
			fs.StringSlice(s.Name, nil, usage)
		default:
			fs.String(s.Name, s.Default, usage)
		}
	}
}

// The in-process cache TTLs that --cache-ttl 0s chooses between.
const (
	// CacheTTLHeard is for an instance that hears of every edit: the only
	// one on a SQLite file, or one of several sharing Redis, whose
	// invalidation channel tells each of every edit. The TTL then only
	// bounds how long a lost message leaves a link stale.
	CacheTTLHeard = 10 * time.Minute
	// CacheTTLUnheard is for instances on PostgreSQL without Redis, which
	// learn of another instance's edit only when the entry expires.
	CacheTTLUnheard = time.Minute
)

// LinkCacheTTL is how long a link stays in an instance's memory: CacheTTL,
// or when that is 0, CacheTTLHeard if the instance hears of every edit
// (heard) and CacheTTLUnheard otherwise.
func (c Config) LinkCacheTTL(heard bool) time.Duration {
	switch {
	case c.CacheTTL > 0:
		return c.CacheTTL
	case heard:
		return CacheTTLHeard
	default:
		return CacheTTLUnheard
	}
}

// Default returns the configuration of a server given no settings at all.
// Tests start from it and change the fields they need.
func Default() Config {
	c, err := parse(defaults())
	if err != nil {
		panic("config: the defaults in Settings are invalid: " + err.Error())
	}
	return c
}

// defaults returns every setting at its default, for the sources of Load
// to override.
func defaults() *koanf.Koanf {
	k := koanf.New(".")
	for _, s := range Settings {
		k.Set(s.Name, s.Default)
	}
	return k
}

// Load reads settings from the flags in fs (registered by AddFlags), the
// environment in env (KEY=VALUE pairs) and the config file, and checks
// them. It reports every problem at once.
func Load(fs *pflag.FlagSet, env []string) (Config, error) {
	return LoadOver(fs, env, nil)
}

// FromEnv is Load without flags: the settings a container's environment
// (and the config file it names) gives.
func FromEnv(env []string) (Config, error) {
	return LoadOver(nil, env, nil)
}

// File returns the config file that fs (which may be nil) and env name,
// or "".
func File(fs *pflag.FlagSet, env []string) string {
	var path string
	if fs != nil {
		path, _ = fs.GetString("config")
	}
	if path == "" {
		path = environ.Get(env, "SHORTLINKS_CONFIG")
	}
	return path
}

// LoadOver is Load with the settings in over, by name, winning over every
// other source: the values kept in etcd (config-etcd). An unknown name in
// over is an error.
func LoadOver(fs *pflag.FlagSet, env []string, over map[string]string) (Config, error) {
	k := defaults()
	path := File(fs, env)
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
	err := k.Load(envprovider.Provider(".", envprovider.Opt{
		Prefix:      "SHORTLINKS_",
		EnvironFunc: func() []string { return env },
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
	// Every key holds at least its default, so only the flags given count.
	if fs != nil {
		if err := k.Load(posflag.Provider(fs, ".", k), nil); err != nil {
			return Config{}, fmt.Errorf("flags: %w", err)
		}
	}
	for name, v := range over {
		if !known(name) {
			return Config{}, fmt.Errorf("etcd: unknown setting %q", name)
		}
		k.Set(name, v)
	}
	return parse(k)
}

// Copy sets the setting called name in dst to its value in src.
func Copy(dst *Config, src Config, name string) {
	s, ok := lookup(name)
	if !ok {
		panic("config: no setting " + name)
	}
	reflect.ValueOf(s.field(dst)).Elem().Set(reflect.ValueOf(s.field(&src)).Elem())
}

// Changed returns the names of the settings whose values differ between a
// and b, in the order of Settings.
func Changed(a, b Config) []string {
	var out []string
	for _, s := range Settings {
		if !reflect.DeepEqual(s.value(a), s.value(b)) {
			out = append(out, s.Name)
		}
	}
	return out
}

// lookup returns the setting called name.
func lookup(name string) (Setting, bool) {
	i := slices.IndexFunc(Settings, func(s Setting) bool { return s.Name == name })
	if i < 0 {
		return Setting{}, false
	}
	return Settings[i], true
}

func known(name string) bool {
	_, ok := lookup(name)
	return ok
}

// parse fills a Config from raw values, whatever their sources' types, and
// checks it.
func parse(k *koanf.Koanf) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s (--%s, %s): %s", name, name, EnvName(name), fmt.Sprintf(format, args...)))
	}
	var c Config
	for _, s := range Settings {
		for _, problem := range s.set(&c, text(k.Get(s.Name))) {
			bad(s.Name, "%s", problem)
		}
	}

	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	if c.RedisKeyPrefix == "" {
		// Every key has a prefix: an empty one keeps the default.
		s, _ := lookup("redis-key-prefix")
		c.RedisKeyPrefix = s.Default
	}
	for _, name := range []string{"debug-listen", "metrics-listen", "worker-listen"} {
		if v := text(k.Get(name)); v != "" {
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
	if e := c.SafeBrowsing.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("safe-browsing-endpoint", "%q is not an http or https URL", e)
		}
	}
	if c.CodeKey != "" && !isHexKey(c.CodeKey) {
		bad("code-key", "must be 64 hex digits (32 bytes); make one with 'openssl rand -hex 32'")
	}
	if c.SessionIdleTimeout > c.SessionLifetime {
		bad("session-idle-timeout", "%v is longer than session-lifetime %v", c.SessionIdleTimeout, c.SessionLifetime)
	}
	return c, errors.Join(errs...)
}

// text is a raw value as a string, whatever its source made of it: a YAML
// list or a flag's []string becomes a comma-separated string.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(v, ",")
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

// set stores raw, converted to the setting's type, in its field of c, and
// returns what is wrong with raw, if anything.
func (s Setting) set(c *Config, raw string) (problems []string) {
	not := func(want string) []string {
		if s.rule.want != "" {
			want = s.rule.want
		}
		return []string{fmt.Sprintf("%q is not %s", raw, want)}
	}
	var v any
	switch p := s.field(c).(type) {
	case *string:
		*p, v = raw, raw
	case *int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return not("a whole number")
		}
		*p, v = n, n
	case *float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return not("a number")
		}
		*p, v = f, f
	case *bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return not("true or false")
		}
		*p, v = b, b
	case *time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return not("a duration like 0s, 500ms or 10s")
		}
		*p, v = d, d
	case *[]string:
		*p = list(raw)
		v = *p // a list's rule is about the whole list
	case *[]netip.Prefix:
		for _, item := range list(raw) {
			prefix, err := netip.ParsePrefix(item)
			if err != nil {
				a, aerr := netip.ParseAddr(item)
				if aerr != nil {
					problems = append(problems, fmt.Sprintf("%q is not an address or CIDR", item))
					continue
				}
				prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			*p = append(*p, prefix.Masked())
		}
		return problems
	default:
		panic(fmt.Sprintf("config: setting %s has a field of unknown type %T", s.Name, p))
	}
	if s.rule.ok != nil && !s.rule.ok(v) {
		return not("")
	}
	return nil
}

// list splits a comma-separated value, dropping empty items.
func list(raw string) []string {
	var out []string
	for _, p := range strings.Split(raw, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
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

// Redacted returns every setting's effective value, for logging, with the
// secrets masked.
func (c Config) Redacted() map[string]any {
	out := make(map[string]any, len(Settings))
	for _, s := range Settings {
		v := s.value(c)
		if s.Secret {
			v = masked(v)
		}
		out[s.Name] = v
	}
	return out
}

// value is the setting's value in c as it is shown: durations, addresses and
// lists as strings, numbers and booleans as they are.
func (s Setting) value(c Config) any {
	switch p := s.field(&c).(type) {
	case *string:
		return *p
	case *[]string:
		return append([]string{}, *p...)
	case *[]netip.Prefix:
		l := make([]string, len(*p))
		for i, prefix := range *p {
			l[i] = prefix.String()
		}
		return l
	case *time.Duration:
		return p.String()
	case *int:
		return *p
	case *float64:
		return *p
	case *bool:
		return *p
	}
	panic(fmt.Sprintf("config: setting %s has a field of unknown type", s.Name))
}

// masked hides a secret: a URL keeps all but its password, anything else
// is hidden whole.
func masked(v any) any {
	switch v := v.(type) {
	case []string:
		l := make([]string, len(v))
		for i, item := range v {
			l[i] = masked(item).(string)
		}
		return l
	case string:
		switch {
		case v == "":
			return ""
		case strings.Contains(v, "://"):
			return Mask(v)
		}
	}
	return "********"
}
