// Package servicetest gates tests on the real services they need. Each helper
// returns the service's address, skips with a message naming the variable to
// set when it is not configured, and fails instead when CI=true, so that CI
// can never pass by skipping.
package servicetest

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// Variables that point tests at real services.
const (
	PostgresVar = "SHORTLINKS_TEST_POSTGRES" // e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
	RedisVar    = "SHORTLINKS_TEST_REDIS"    // e.g. redis://127.0.0.1:6379/0
	ChromiumVar = "SHORTLINKS_TEST_CHROMIUM" // e.g. /usr/bin/chromium
	MySQLVar    = "SHORTLINKS_TEST_MYSQL"    // e.g. root@tcp(127.0.0.1:3306)/
)

// CI reports whether the tests run in CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// need returns the value of v, or skips (or, in CI, fails) the test.
func need(t testing.TB, v, example, what string) string {
	t.Helper()
	if s := os.Getenv(v); s != "" {
		return s
	}
	if CI() {
		t.Fatalf("%s is required when CI=true (%s)", v, what)
	}
	t.Skipf("set %s=%s to run tests against %s", v, example, what)
	return ""
}

// Postgres returns the DSN of a PostgreSQL server whose role may create
// databases. Tests make their own database on it and drop it afterwards.
func Postgres(t testing.TB) string {
	t.Helper()
	return need(t, PostgresVar, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "a real PostgreSQL")
}

// Redis returns the URL of a Redis server. Tests use a key prefix of their
// own and delete their keys afterwards.
func Redis(t testing.TB) string {
	t.Helper()
	return need(t, RedisVar, "redis://127.0.0.1:6379/0", "a real Redis")
}

// MySQL returns the DSN (github.com/go-sql-driver/mysql syntax) of a MySQL
// or MariaDB server whose user may create databases. Tests make their own
// database on it and drop it afterwards.
func MySQL(t testing.TB) string {
	t.Helper()
	return need(t, MySQLVar, "'root@tcp(127.0.0.1:3306)/'", "a real MySQL or MariaDB")
}

// Chromium returns the path of a Chromium binary for browser tests.
func Chromium(t testing.TB) string {
	t.Helper()
	return need(t, ChromiumVar, "/usr/bin/chromium", "a real Chromium (apt-get install chromium)")
}

// Binary returns the path of an executable the test needs, such as
// redis-server or pg_basebackup, skipping (failing in CI) when it is absent.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if CI() {
			t.Fatalf("%s is required when CI=true but is not on PATH", name)
		}
		t.Skipf("%s is not on PATH; install it to run this test", name)
	}
	return p
}

// FreePort returns a loopback TCP port that nothing listened on a moment
// ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns a loopback address, host:port, with a free port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
