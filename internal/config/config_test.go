package config_test

import (
	"fmt"
	"os"
	"path/filepath"
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
	if c.Listen != ":8080" || c.DatabaseURL != "sqlite:shortlinks.db" || c.BaseURL != "http://localhost:8080" ||
		c.RedirectStatus != 302 || c.CacheControl != "private, max-age=90" || c.MaxURLLength != 8192 ||
		c.CreateRate != 1 || c.CreateBurst != 20 || c.CacheSize != 1_000_000 || c.CacheTTL != time.Minute ||
		c.RequireAPIKey || c.LogFormat != "json" || c.ShutdownTimeout != 15*time.Second {
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
}

func TestValidation(t *testing.T) {
	_, err := load(t, []string{
		"--redirect-status", "303", "--listen", "nonsense", "--base-url", "ftp://x", "--database-url", "mysql://x",
		"--code-key", "abc", "--trusted-proxies", "not-an-ip", "--cache-ttl", "soon", "--log-level", "loud",
		"--rate-limit-create", "-1",
	}, []string{"SHORTLINKS_CACHE_SIZE=lots"})
	if err == nil {
		t.Fatal("invalid settings accepted")
	}
	for _, want := range []string{
		"redirect-status", "listen", "base-url", "database-url", "code-key", "trusted-proxies",
		"cache-ttl", "log-level", "rate-limit-create", "SHORTLINKS_CACHE_SIZE",
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
