#!/usr/bin/env bash
# Runs once, when the primary's data directory is first made: a role and a
# replication slot for the streaming replica, and the pg_hba.conf line that
# lets it connect for replication.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	--set=password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('replica1');
SQL

echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
