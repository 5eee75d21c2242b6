package redisconn_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/redisconn"
)

func TestParse(t *testing.T) {
	tests := []struct {
		url  string
		want redis.UniversalOptions
		tls  string // expected TLS server name; empty: no TLS
	}{
		{url: "redis://127.0.0.1:6379/0", want: redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}}},
		{url: "redis://cache.internal", want: redis.UniversalOptions{Addrs: []string{"cache.internal:6379"}}},
		{url: "redis://:s3cr%40t@cache:6380/2?client_name=shortlinks&pool_size=40",
			want: redis.UniversalOptions{Addrs: []string{"cache:6380"}, Password: "s3cr@t", DB: 2, ClientName: "shortlinks", PoolSize: 40}},
		{url: "redis://app:pw@[::1]:7000?db=3", want: redis.UniversalOptions{Addrs: []string{"[::1]:7000"}, Username: "app", Password: "pw", DB: 3}},
		{url: "rediss://cache.example.com", want: redis.UniversalOptions{Addrs: []string{"cache.example.com:6379"}}, tls: "cache.example.com"},
		{url: "redis-sentinel://s1:26379,s2,[::1]:26380/mymaster?db=1",
			want: redis.UniversalOptions{Addrs: []string{"s1:26379", "s2:26379", "[::1]:26380"}, MasterName: "mymaster", DB: 1}},
		{url: "rediss-sentinel://:pw@s1/primary", want: redis.UniversalOptions{Addrs: []string{"s1:26379"}, MasterName: "primary", Password: "pw"}, tls: "s1"},
		{url: "redis-cluster://n1:7000,n2:7001,n3", want: redis.UniversalOptions{Addrs: []string{"n1:7000", "n2:7001", "n3:6379"}, IsClusterMode: true}},
		{url: "redis-cluster://seed:7000", want: redis.UniversalOptions{Addrs: []string{"seed:7000"}, IsClusterMode: true}},
		{url: "rediss-cluster://u:p@n1:7000,n2:7000/", want: redis.UniversalOptions{Addrs: []string{"n1:7000", "n2:7000"}, IsClusterMode: true, Username: "u", Password: "p"}, tls: "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := redisconn.Parse(tt.url)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			switch {
			case tt.tls == "" && got.TLSConfig != nil:
				t.Errorf("TLS set for a plain URL")
			case tt.tls != "" && (got.TLSConfig == nil || got.TLSConfig.ServerName != tt.tls):
				t.Errorf("TLS = %+v, want server name %q", got.TLSConfig, tt.tls)
			}
			got.TLSConfig = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tt.url, *got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://cache:6379", "scheme"},
		{"cache:6379", "scheme"},
		{"redis://a:6379,b:6379", "one server"},
		{"redis://cache/x", "database number"},
		{"redis://cache:99999", "port"},
		{"redis://cache:6379?read_timeout=1s", "unknown parameter"},
		{"redis://cache?pool_size=0", "pool_size"},
		{"redis-sentinel://s1:26379", "master"},
		{"redis-sentinel://s1:26379/a/b", "master"},
		{"redis-cluster://n1:7000/1", "no path"},
		{"redis-cluster://n1:7000?db=1", "database 0"},
		{"redis-cluster://n1:7000,,n2", "missing host"},
		{"redis://::1:6379", "ipv6"},
		{"redis://u:%zz@cache", "escaped"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := redisconn.Parse(tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error about %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestParseClientType(t *testing.T) {
	for url, want := range map[string]string{
		"redis://127.0.0.1:6379":                    "*redis.Client",
		"redis-sentinel://127.0.0.1:26379/mymaster": "*redis.Client", // a failover client
		"redis-cluster://127.0.0.1:7000":            "*redis.ClusterClient",
	} {
		c, err := redisconn.Open(url, redisconn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := reflect.TypeOf(c).String(); got != want {
			t.Errorf("Open(%q) made a %s, want %s", url, got, want)
		}
		c.Close()
	}
}
