package config_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/shortlinks/shortlinks/internal/config"
)

func load(t *testing.T, args []string, environ []string) (config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return config.Load(fs, environ)
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := config.Default(); !reflect.DeepEqual(c, d) {
		t.Fatalf("Default() = %+v\nLoad with nothing set = %+v", d, c)
	}
	if c.Listen != ":8080" || c.DatabaseURL != "sqlite:shortlinks.db" || c.BaseURL != "http://localhost:8080" ||
		c.RedirectStatus != 302 || c.CacheControl != "private, max-age=90" || c.MaxURLLength != 8192 ||
		c.CreateRate != 1 || c.CreateBurst != 20 || c.CacheSize != 1_000_000 || c.CacheTTL != 0 ||
		c.RequireAPIKey || c.LogFormat != "json" || c.ShutdownTimeout != 15*time.Second ||
		c.RedisTimeout != 50*time.Millisecond || c.RedisKeyPrefix != "shortlinks:" || c.LogRedirectSample != 0.001 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "shortlinks.yaml")
	os.WriteFile(file, []byte("listen: \":7000\"\nbase-url: https://from-file.example\nredirect-status: 301\ncache-size: 5\ntrusted-proxies: [10.0.0.0/8, 192.0.2.1]\n"), 0o600)

	// File alone.
	c, err := load(t, []string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":7000" || c.BaseURL != "https://from-file.example" || c.RedirectStatus != 301 || c.CacheSize != 5 ||
		len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.1/32" {
		t.Fatalf("from file: %+v", c)
	}
	// Environment beats the file; the file can be named by environment too.
	env := []string{"SHORTLINKS_CONFIG=" + file, "SHORTLINKS_REDIRECT_STATUS=307", "SHORTLINKS_CACHE_SIZE=6", "SHORTLINKS_TRUSTED_PROXIES=172.16.0.0/12", "UNRELATED=1"}
	c, err = load(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":7000" || c.RedirectStatus != 307 || c.CacheSize != 6 || len(c.TrustedProxies) != 1 {
		t.Fatalf("env over file: %+v", c)
	}
	// Flags beat both.
	c, err = load(t, []string{"--redirect-status", "308", "--require-api-key"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedirectStatus != 308 || c.CacheSize != 6 || !c.RequireAPIKey {
		t.Fatalf("flags over env: %+v", c)
	}
	// --blocklist is repeatable, and the environment lists comma-separated.
	c, err = load(t, []string{"--blocklist", "a=domains:/x/a.txt", "--blocklist", "/x/b.csv"}, nil)
	if err != nil || len(c.Blocklists) != 2 || c.Blocklists[0] != "a=domains:/x/a.txt" || c.Blocklists[1] != "/x/b.csv" {
		t.Fatalf("repeated --blocklist: %q, %v", c.Blocklists, err)
	}
	c, err = load(t, nil, []string{"SHORTLINKS_BLOCKLIST=/x/a.txt,/x/b.txt", "SHORTLINKS_SHORTENER_HOSTS=go.example"})
	if err != nil || len(c.Blocklists) != 2 || len(c.ShortenerHosts) != 1 {
		t.Fatalf("SHORTLINKS_BLOCKLIST: %q %q, %v", c.Blocklists, c.ShortenerHosts, err)
	}
}

func TestValidation(t *testing.T) {
	// Values of the wrong type can only come from the environment or the
	// file: the flags are typed, and pflag refuses them (TestTypedFlags).
	_, err := load(t, []string{
		"--redirect-status", "303", "--listen", "nonsense", "--base-url", "ftp://x", "--database-url", "mysql://x",
		"--code-key", "abc", "--trusted-proxies", "not-an-ip", "--log-level", "loud",
		"--rate-limit-create", "-1", "--rate-limit-ipv6-prefix", "16", "--rate-limit-qr", "-2",
		"--safe-browsing-endpoint", "gopher://x", "--read-timeout", "0s",
	}, []string{"SHORTLINKS_CACHE_SIZE=lots", "SHORTLINKS_CACHE_TTL=soon"})
	if err == nil {
		t.Fatal("invalid settings accepted")
	}
	for _, want := range []string{
		"redirect-status", "listen", "base-url", "database-url", "code-key", "trusted-proxies",
		"cache-ttl", "log-level", "rate-limit-create", "SHORTLINKS_CACHE_SIZE",
		"rate-limit-ipv6-prefix", "rate-limit-qr", "safe-browsing-endpoint", "read-timeout",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestUnknownFileKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("lisen: \":1\"\n"), 0o600)
	if _, err := load(t, []string{"--config", file}, nil); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("unknown key in file: %v", err)
	}
}

func TestRedactedMasksSecrets(t *testing.T) {
	c, err := load(t, []string{
		"--database-url", "postgres://app:hunter2@db.internal/links",
		"--database-replica-urls", "postgres://app:hunter3@replica/links",
		"--redis-url", "redis://:hunter4@cache:6379/0",
		"--code-key", strings.Repeat("ab", 32),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dump := fmt.Sprint(c.Redacted())
	for _, secret := range []string{"hunter2", "hunter3", "hunter4", strings.Repeat("ab", 32)} {
		if strings.Contains(dump, secret) {
			t.Fatalf("secret %q in %s", secret, dump)
		}
	}
	if !strings.Contains(dump, "db.internal") {
		t.Fatalf("masking hid more than the password: %s", dump)
	}
}

// TestRedactedCoversEverySetting checks that the dump logged at start shows
// every setting and masks every secret, whatever it is set to.
func TestRedactedCoversEverySetting(t *testing.T) {
	// A value for each secret setting, with its secret part.
	secrets := map[string]struct{ value, secret string }{
		"database-url":          {"postgres://app:hunter2@db.internal/links", "hunter2"},
		"database-replica-urls": {"postgres://app:hunter3@replica-1/links,postgres://app:hunter5@replica-2/links", "hunter5"},
		"redis-url":             {"rediss-sentinel://:hunter4@[::1]:26379,[::2]:26379/main", "hunter4"},
		"code-key":              {strings.Repeat("c0", 32), strings.Repeat("c0", 32)},
		"safe-browsing-key":     {"AIzaSyHunter6", "Hunter6"},
		"admin-password":        {"correct horse battery", "correct horse battery"},
	}
	var env []string
	for _, s := range config.Settings {
		v, ok := secrets[s.Name]
		if s.Secret && !ok {
			t.Errorf("secret setting %s has no value in this test: add one", s.Name)
		}
		if !s.Secret && ok {
			t.Errorf("%s is not secret: take it out of this test", s.Name)
		}
		if ok {
			env = append(env, config.EnvName(s.Name)+"="+v.value)
		}
	}
	c, err := load(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	dump := c.Redacted()
	if len(dump) != len(config.Settings) {
		t.Errorf("Redacted has %d entries for %d settings", len(dump), len(config.Settings))
	}
	for _, s := range config.Settings {
		v, ok := dump[s.Name]
		if !ok {
			t.Errorf("Redacted leaves out %s", s.Name)
			continue
		}
		if sec, ok := secrets[s.Name]; ok && strings.Contains(fmt.Sprint(v), sec.secret) {
			t.Errorf("Redacted shows %s's secret: %v", s.Name, v)
		}
	}
	// Masking keeps what an operator needs to tell the servers apart.
	for name, want := range map[string]string{"database-url": "db.internal", "database-replica-urls": "replica-2", "redis-url": "[::2]:26379"} {
		if !strings.Contains(fmt.Sprint(dump[name]), want) {
			t.Errorf("Redacted()[%s] = %v, want it to still show %s", name, dump[name], want)
		}
	}
	if got := dump["code-key"]; got != "********" {
		t.Errorf("Redacted()[code-key] = %v, want it hidden whole", got)
	}
	// Values keep their types in the JSON log line.
	if dump["cache-size"] != 1_000_000 || dump["log-redirect-sample"] != 0.001 || dump["auto-migrate"] != false ||
		dump["drain-delay"] != "0s" || dump["metrics-listen"] != "" {
		t.Errorf("Redacted = %v", dump)
	}
}

// TestTypedFlags checks that each flag has its setting's type and default,
// so that --help says what to give and a bad value is refused at once.
func TestTypedFlags(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.AddFlags(fs)
	for _, s := range config.Settings {
		f := fs.Lookup(s.Name)
		if f == nil {
			t.Errorf("no flag --%s", s.Name)
			continue
		}
		want := map[string]string{"string": "string", "int": "int", "float": "float64", "bool": "bool", "duration": "duration", "list": "stringSlice"}[s.Type()]
		if got := f.Value.Type(); got != want {
			t.Errorf("--%s is a %s flag, want %s", s.Name, got, want)
		}
		if s.Type() != "list" && f.DefValue != s.Default {
			t.Errorf("--%s shows default %q, want %q", s.Name, f.DefValue, s.Default)
		}
	}
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	for _, want := range []string{
		"--cache-size int ", "--cache-ttl duration ", "--rate-limit-create float ", "--redirect-status int ",
		"--trusted-proxies strings ", "--listen string ", "(default 10m)", "(default 0.001)",
	} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, help.String())
		}
	}
	for _, args := range [][]string{{"--cache-size", "lots"}, {"--cache-ttl", "soon"}, {"--rate-limit-create", "fast"}, {"--auto-migrate=maybe"}} {
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		config.AddFlags(fs)
		if err := fs.Parse(args); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(strings.SplitN(args[0], "=", 2)[0], "--")) {
			t.Errorf("parsing %v = %v, want an error naming the flag", args, err)
		}
	}
	// Typed values given as flags reach the Config.
	c, err := load(t, []string{"--cache-ttl", "90s", "--rate-limit-create", "0.25", "--cache-size", "7", "--trusted-proxies", "10.0.0.1,10.0.1.0/24"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheTTL != 90*time.Second || c.CreateRate != 0.25 || c.CacheSize != 7 || len(c.TrustedProxies) != 2 {
		t.Fatalf("typed flags: %+v", c)
	}
}

// TestEmptyRedisKeyPrefix checks that an empty prefix keeps the default:
// every key Shortlinks writes to Redis has one.
func TestEmptyRedisKeyPrefix(t *testing.T) {
	c, err := load(t, []string{"--redis-key-prefix", ""}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisKeyPrefix != config.Default().RedisKeyPrefix {
		t.Fatalf("RedisKeyPrefix = %q, want the default", c.RedisKeyPrefix)
	}
}

// Settings from etcd (LoadOver's over) win over flags, the environment and
// the file; an unknown one is refused.
func TestLoadOver(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.AddFlags(fs)
	if err := fs.Parse([]string{"--redirect-status", "301"}); err != nil {
		t.Fatal(err)
	}
	env := []string{"SHORTLINKS_CACHE_CONTROL=no-cache"}
	c, err := config.LoadOver(fs, env, map[string]string{"redirect-status": "308", "cache-control": "no-store"})
	if err != nil {
		t.Fatal(err)
	}
	if c.RedirectStatus != 308 || c.CacheControl != "no-store" {
		t.Errorf("LoadOver = %d %q, want 308 and no-store from over", c.RedirectStatus, c.CacheControl)
	}
	if _, err := config.LoadOver(fs, env, map[string]string{"redirect-stauts": "308"}); err == nil || !strings.Contains(err.Error(), "redirect-stauts") {
		t.Errorf("LoadOver with an unknown setting = %v, want an error naming it", err)
	}
	if _, err := config.LoadOver(fs, env, map[string]string{"redirect-status": "303"}); err == nil {
		t.Error("LoadOver with an invalid value succeeded")
	}
}

func TestChangedAndCopy(t *testing.T) {
	a := config.Default()
	b := a
	b.CreateRate, b.CacheSize, b.TrustedProxies = 5, 10, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	got := config.Changed(a, b)
	if want := []string{"rate-limit-create", "trusted-proxies", "cache-size"}; !slices.Equal(got, want) {
		t.Errorf("Changed = %v, want %v", got, want)
	}
	config.Copy(&b, a, "cache-size")
	if b.CacheSize != a.CacheSize || b.CreateRate != 5 {
		t.Errorf("Copy of cache-size: %d, %v", b.CacheSize, b.CreateRate)
	}
	if !config.Live("rate-limit-create") || config.Live("cache-size") || config.Live("no-such-setting") {
		t.Error("Live is wrong about rate-limit-create, cache-size or an unknown name")
	}
}

func TestCompat(t *testing.T) {
	c, err := load(t, []string{"--compat", "shlink,yourls"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Compat, []string{"shlink", "yourls"}) {
		t.Errorf("compat %q, want [shlink yourls]", c.Compat)
	}
	_, err = load(t, nil, []string{"SHORTLINKS_COMPAT=shlink,kutt"})
	if err == nil || !strings.Contains(err.Error(), `"shlink,kutt" is not a list of shlink and yourls`) {
		t.Errorf("compat kutt: %v, want it refused", err)
	}
}

// TestLinkCacheTTL checks what --cache-ttl 0s stands for: long where every
// edit is heard of, a minute where it is not; a TTL that is set wins.
func TestLinkCacheTTL(t *testing.T) {
	c := config.Default()
	if got := c.LinkCacheTTL(true); got != 10*time.Minute {
		t.Errorf("default, edits heard: %v, want 10m", got)
	}
	if got := c.LinkCacheTTL(false); got != time.Minute {
		t.Errorf("default, edits not heard: %v, want 1m", got)
	}
	c, err := load(t, []string{"--cache-ttl", "5s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, heard := range []bool{true, false} {
		if got := c.LinkCacheTTL(heard); got != 5*time.Second {
			t.Errorf("--cache-ttl 5s, heard %v: %v", heard, got)
		}
	}
	if _, err := load(t, []string{"--cache-ttl", "-1s"}, nil); err == nil {
		t.Error("--cache-ttl -1s accepted")
	}
}
