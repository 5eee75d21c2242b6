// Package gateway tests the nginx gateway as shipped in deploy/nginx, in
// front of real `shortlinks serve` processes on PostgreSQL: proxying,
// request ids, client addresses, rate limits, the static asset cache, what
// clients see while an instance dies or storage is down, and branded short
// domains (each served by name, the same alias on two domains, unknown
// hosts, a client's forged X-Forwarded-Host).
package gateway
