// Package failover holds the high-availability suites: Shortlinks under
// traffic while PostgreSQL fails over under Patroni and Redis fails over
// under Sentinel, with every server a real process on loopback. They take
// minutes, so they run only when SHORTLINKS_TEST_HA=1 (make test-ha);
// plain go test skips them at once.
package failover
