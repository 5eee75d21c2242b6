package redisconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Default ports when a URL leaves them out.
const (
	defaultPort         = "6379"
	defaultSentinelPort = "26379"
)

// topology is what a URL scheme selects.
type topology int

const (
	standalone topology = iota
	sentinel
	cluster
)

var schemes = map[string]struct {
	topo topology
	tls  bool
}{
	"redis":           {standalone, false},
	"rediss":          {standalone, true},
	"redis-sentinel":  {sentinel, false},
	"rediss-sentinel": {sentinel, true},
	"redis-cluster":   {cluster, false},
	"rediss-cluster":  {cluster, true},
}

// Parse reads a Redis URL into options for redis.NewUniversalClient, which
// then picks the client for the topology the URL names:
//
//	redis://[[user]:password@]host[:port][/db][?params]
//	redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master[?db=N&params]
//	redis-cluster://[[user]:password@]host[:port][,host[:port]...][?params]
//
// The schemes rediss, rediss-sentinel and rediss-cluster are the same over
// TLS. Ports default to 6379, or 26379 for sentinels; IPv6 hosts go in
// brackets. The user and password are those of the Redis servers that hold
// the data; sentinels are reached without a password. The params accepted
// are db (not for a cluster), client_name and pool_size; timeouts come from
// Options, not from the URL.
func Parse(raw string) (*redis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	kind, known := schemes[scheme]
	if !ok || !known {
		return nil, errors.New("redis url: scheme must be redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	path = strings.Trim(path, "/")

	o := &redis.UniversalOptions{}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user, pass, err := userinfo(authority[:at])
		if err != nil {
			return nil, err
		}
		o.Username, o.Password = user, pass
		authority = authority[at+1:]
	}
	port := defaultPort
	if kind.topo == sentinel {
		port = defaultSentinelPort
	}
	for _, h := range strings.Split(authority, ",") {
		addr, err := hostPort(h, port)
		if err != nil {
			return nil, err
		}
		o.Addrs = append(o.Addrs, addr)
	}
	if kind.topo == standalone && len(o.Addrs) > 1 {
		return nil, errors.New("redis url: a redis:// URL names one server; use redis-cluster:// or redis-sentinel:// for several")
	}

	switch kind.topo {
	case standalone:
		if path != "" {
			db, err := strconv.Atoi(path)
			if err != nil || db < 0 {
				return nil, fmt.Errorf("redis url: %q is not a database number", path)
			}
			o.DB = db
		}
	case sentinel:
		if path == "" || strings.Contains(path, "/") {
			return nil, errors.New("redis url: a sentinel URL ends with the master's name, like redis-sentinel://host:26379/mymaster")
		}
		o.MasterName = path
	case cluster:
		if path != "" {
			return nil, errors.New("redis url: a cluster URL has no path (a cluster has only database 0)")
		}
		// One seed address is enough to find the rest of a cluster, but
		// NewUniversalClient would take it for a standalone server.
		o.IsClusterMode = true
	}

	if err := params(o, rawQuery, kind.topo); err != nil {
		return nil, err
	}
	if kind.tls {
		host, _, _ := net.SplitHostPort(o.Addrs[0])
		o.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

func userinfo(s string) (user, pass string, err error) {
	u, p, hasPass := strings.Cut(s, ":")
	if user, err = url.PathUnescape(u); err != nil {
		return "", "", errors.New("redis url: the user name is not properly escaped")
	}
	if hasPass {
		if pass, err = url.PathUnescape(p); err != nil {
			return "", "", errors.New("redis url: the password is not properly escaped")
		}
	}
	return user, pass, nil
}

// hostPort checks one host[:port] and fills in the default port.
func hostPort(h, port string) (string, error) {
	if h == "" {
		return "", errors.New("redis url: missing host")
	}
	host, p, err := net.SplitHostPort(h)
	if err != nil {
		// No port: a bare name, IPv4 address or bracketed IPv6 address.
		host, p = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), port
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !strings.HasPrefix(h, "[")) {
			return "", fmt.Errorf("redis url: %q is not host, host:port or [ipv6]:port", h)
		}
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("redis url: %q has no valid port", h)
	}
	if host == "" {
		return "", fmt.Errorf("redis url: %q has no host", h)
	}
	return net.JoinHostPort(host, p), nil
}

func params(o *redis.UniversalOptions, rawQuery string, topo topology) error {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return errors.New("redis url: the query is not properly escaped")
	}
	for name, vs := range q {
		v := vs[len(vs)-1]
		switch name {
		case "db":
			if topo == cluster {
				return errors.New("redis url: a cluster has only database 0")
			}
			db, err := strconv.Atoi(v)
			if err != nil || db < 0 {
				return fmt.Errorf("redis url: db=%q is not a database number", v)
			}
			o.DB = db
		case "client_name":
			o.ClientName = v
		case "pool_size":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("redis url: pool_size=%q is not a positive number", v)
			}
			o.PoolSize = n
		default:
			return fmt.Errorf("redis url: unknown parameter %q (known: db, client_name, pool_size)", name)
		}
	}
	return nil
}
