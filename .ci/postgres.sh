#!/usr/bin/env bash
# Install PostgreSQL from Debian (if missing) and start a throwaway cluster for the test suite; print its admin URL
# on the last line
# (the line before says how to stop it).
#
# The cluster is new on every run (initdb in a fresh folder, on a free port), so CI never depends on the state of
# the machine's own cluster: a system cluster that was stopped uncleanly can spend minutes in crash recovery
# before it accepts connections. Durability is switched off because the data is thrown away after the run.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/reconciler-pg.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner() {
  # initdb refuses to run as root; the cluster belongs to the postgres user when CI runs as root.
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$dir"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
printf 'reconciler\n' >"$dir/pwfile"
as_owner "$bin/initdb" -D "$dir/data" -U reconciler --pwfile="$dir/pwfile" -A scram-sha-256 \
  --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null ||
  { cat "$dir/server.log" >&2; exit 1; }
echo "PGCTL=$bin/pg_ctl PGDATA=$dir/data"
echo "postgresql+psycopg://reconciler:reconciler@127.0.0.1:$port/postgres"
