#!/bin/sh
# Sourced by login shells (from /etc/profile), never executed.
# Login shells in this container (`sudo -i -u postgres`, then `psql`) talk to
# the server it runs, as the superuser the container was started with and
# into its database, as `psql` does for the postgres user on a Debian host.
PATH="/usr/lib/postgresql/15/bin:${PATH}"
if [ -z "${POSTGRES_USER:-}" ] && [ -r "${POSTGRES_USER_FILE:-}" ]; then
  POSTGRES_USER="$(cat "${POSTGRES_USER_FILE}")"
fi
if [ -z "${POSTGRES_DB:-}" ] && [ -r "${POSTGRES_DB_FILE:-}" ]; then
  POSTGRES_DB="$(cat "${POSTGRES_DB_FILE}")"
fi
PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"
PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-${PGUSER}}}"
export PATH PGUSER PGDATABASE
# psql and bash keep their history in $HOME, which is read-only in a pod
# (readOnlyRootFilesystem): psql would end every session with "could not save
# history to file". Write it to /tmp when that is writable, else nowhere.
if [ ! -w "${HOME:-/}" ]; then
  if [ -d /tmp ] && [ -w /tmp ]; then
    history_dir=/tmp
  else
    history_dir=
  fi
  PSQL_HISTORY="${PSQL_HISTORY:-${history_dir:+${history_dir}/.psql_history}}"
  PSQL_HISTORY="${PSQL_HISTORY:-/dev/null}"
  HISTFILE="${history_dir:+${history_dir}/.bash_history}"
  export PSQL_HISTORY
  if [ -z "${HISTFILE}" ]; then
    unset HISTFILE
  fi
  unset history_dir
fi
