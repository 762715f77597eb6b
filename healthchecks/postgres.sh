#!/bin/sh
# Health check of the db service (docker-compose.yml): PostgreSQL accepts
# connections and answers SELECT 1, over TCP rather than the socket: while the
# first start initialises, a temporary server answers on the socket only.
set -eu
export PGPASSWORD="${POSTGRES_PASSWORD:-}"
pg_isready --quiet --host=127.0.0.1 --username="${POSTGRES_USER:-postgres}" --dbname="${POSTGRES_DB:-postgres}"
[ "$(psql --host=127.0.0.1 --username="${POSTGRES_USER:-postgres}" --dbname="${POSTGRES_DB:-postgres}" \
  --no-psqlrc --tuples-only --no-align --command='SELECT 1')" = 1 ]
