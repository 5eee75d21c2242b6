#!/usr/bin/env bash
# Starts a streaming replica of postgres-primary. On the first start (empty
# data directory) it copies the primary with pg_basebackup, which also writes
# standby.signal and primary_conninfo; then the image's own entrypoint finds
# an initialised data directory and starts the server as a hot standby.
set -euo pipefail

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 0700 "$PGDATA"
	# pg_basebackup empties the directory again when it fails.
	until gosu postgres pg_basebackup --host=postgres-primary --username=replicator \
		--pgdata="$PGDATA" --wal-method=stream --write-recovery-conf \
		--slot=replica1 --checkpoint=fast; do
		echo "replica: waiting for postgres-primary" >&2
		sleep 2
	done
fi

exec docker-entrypoint.sh postgres -c hot_standby=on -c max_connections=200
