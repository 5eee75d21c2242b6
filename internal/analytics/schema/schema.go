// Package schema holds the draft migrations of the analytics tables, one
// directory per engine, in goose's format. They are kept apart from the
// stores' own migrations until the stores adopt them; the sinks' tests
// apply them to scratch databases.
package schema

import "embed"

// Postgres holds postgres/*.sql; SQLite holds sqlite/*.sql.
var (
	//go:embed postgres/*.sql
	Postgres embed.FS
	//go:embed sqlite/*.sql
	SQLite embed.FS
)
