package postgres

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// What follows lets a DB follow a primary that moves, as under Patroni or
// CloudNativePG, without a restart. A URL may name several hosts
// (postgres://h1:5432,h2:5432,h3:5432/db?target_session_attrs=read-write);
// pgx then tries them in order for every new connection and keeps the
// first that has the role asked for. Three things make that quick:
//
//   - Each host gets a share of the connect timeout rather than all of it,
//     so that one host that hangs (a partition, a frozen server) does not
//     use up the whole attempt before the others are tried.
//   - The host that last took a connection is tried first, so that after a
//     failover only the first new connection pays for the old primary.
//   - A server that answers as a standby when we wrote (read_only_sql_transaction)
//     or hangs loses all of its pool's connections at once (see server.down),
//     rather than one request per pooled connection finding out.
//
// None of this adds a query to a request: pools learn from errors, not
// from checks before use.

// minHostTimeout is the least time a host of several gets to connect.
const minHostTimeout = 250 * time.Millisecond

// reserveSQL reserves ids, see ReserveIDs. nextval writes WAL only once in
// 32 calls (it logs ahead), and a call that writes none leaves its
// transaction without a transaction id, whose commit then waits neither for
// the WAL flush nor for the synchronous standby. Asking for the transaction
// id makes the commit wait for both, and so for the sequence's earlier
// log-ahead record too: once the block is returned, a promoted standby can
// never hand it out again.
const reserveSQL = `SELECT reserve_link_ids($1), pg_current_xact_id()::text`

// hosts remembers, for a pool over a multi-host URL, which host last took
// a connection, and puts it first for the next one.
type hosts struct {
	mu        sync.Mutex
	preferred string              // the remote address, ip:port, of the last connection made
	resolved  map[string][]string // host name → addresses, as last looked up
}

// followPrimary configures cfg, for a URL of several hosts, as the comment
// at the top of this file says. It does nothing for a URL of one host.
func followPrimary(cfg *pgxpool.Config, timeout time.Duration) bool {
	cc := cfg.ConnConfig
	n := distinctHosts(&cc.Config)
	if n < 2 {
		return false
	}
	cc.ConnectTimeout = max(timeout/time.Duration(n), minHostTimeout)
	h := &hosts{resolved: make(map[string][]string)}
	lookup := cc.LookupFunc
	cc.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
		addrs, err := lookup(ctx, host)
		if err == nil {
			h.mu.Lock()
			h.resolved[host] = addrs
			h.mu.Unlock()
		}
		return addrs, err
	}
	cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		h.order(&cc.Config)
		return nil
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		if a := c.PgConn().Conn().RemoteAddr(); a != nil {
			h.mu.Lock()
			h.preferred = a.String()
			h.mu.Unlock()
		}
		return nil
	}
	return true
}

// order moves the entries of the preferred host to the front of c's list,
// keeping the order of the rest.
func (h *hosts) order(c *pgconn.Config) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.preferred == "" {
		return
	}
	all := append([]*pgconn.FallbackConfig{{Host: c.Host, Port: c.Port, TLSConfig: c.TLSConfig}}, c.Fallbacks...)
	first := make([]*pgconn.FallbackConfig, 0, len(all))
	rest := make([]*pgconn.FallbackConfig, 0, len(all))
	for _, f := range all {
		if h.is(f) {
			first = append(first, f)
		} else {
			rest = append(rest, f)
		}
	}
	if len(first) == 0 || len(rest) == 0 {
		return
	}
	all = append(first, rest...)
	c.Host, c.Port, c.TLSConfig = all[0].Host, all[0].Port, all[0].TLSConfig
	c.Fallbacks = all[1:]
}

// is reports whether f names the preferred host; h.mu is held.
func (h *hosts) is(f *pgconn.FallbackConfig) bool {
	port := strconv.Itoa(int(f.Port))
	if net.JoinHostPort(f.Host, port) == h.preferred {
		return true
	}
	for _, a := range h.resolved[f.Host] {
		if net.JoinHostPort(a, port) == h.preferred {
			return true
		}
	}
	return false
}

// distinctHosts counts the host:port pairs c names; pgx lists a host twice
// when sslmode=prefer tries it with and without TLS.
func distinctHosts(c *pgconn.Config) int {
	seen := map[string]bool{net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))): true}
	for _, f := range c.Fallbacks {
		seen[net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port)))] = true
	}
	return len(seen)
}

// demoted reports whether err is the primary refusing a write because it is
// a standby now: its pooled connections all lead to a standby and must go.
func demoted(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "25006"
}
