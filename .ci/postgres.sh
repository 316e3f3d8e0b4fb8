#!/usr/bin/env bash
# Install PostgreSQL from Debian (if missing), start it, and create the test role. Idempotent.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q online; then
  pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q" && break
  sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='reconciler'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE reconciler LOGIN CREATEDB PASSWORD 'reconciler'\""
echo "postgresql+psycopg://reconciler:reconciler@127.0.0.1:5432/postgres"
