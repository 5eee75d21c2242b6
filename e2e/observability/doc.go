// Package observability checks the Grafana dashboard and the Prometheus
// alert rules in deploy/ against what Shortlinks exports: two instances on
// PostgreSQL and Redis are sent traffic of every kind, their metrics must
// move as the traffic says, and every metric and label the dashboard and
// the alerts query must exist. promtool checks the rules and runs their
// unit tests.
package observability
