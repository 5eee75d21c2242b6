// Package gateway tests the nginx gateway as shipped in deploy/nginx, in
// front of real `shortlinks serve` processes on PostgreSQL: proxying,
// request ids, client addresses, rate limits, the static asset cache, and
// what clients see while an instance dies or storage is down.
package gateway
