#!/usr/bin/env bash
# Entrypoint of orchestrator-k3s/postgres, honouring the official postgres
# image's contract so the same manifests work with either image:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default: the user),
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256),
#   each also as <NAME>_FILE (a mounted secret); PGDATA is initialised only
#   when empty, then /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz run once.
# Started as root it takes ownership of PGDATA and drops to postgres (999).
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u +'%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# file_env NAME [DEFAULT]: NAME from the environment or from the file named
# by NAME_FILE (never both), exported.
file_env() {
  local name="$1" file_name="${1}_FILE" value="${2:-}"
  if [[ -n "${!name:-}" && -n "${!file_name:-}" ]]; then
    die "both ${name} and ${file_name} are set; they are exclusive"
  fi
  if [[ -n "${!name:-}" ]]; then
    value="${!name}"
  elif [[ -n "${!file_name:-}" ]]; then
    value="$(< "${!file_name}")"
  fi
  export "${name}=${value}"
  unset "${file_name}"
}

# psql_local [DBNAME]: psql over the socket as the superuser, stopping at the
# first error; reads SQL from stdin or -f/-c arguments that follow.
psql_local() {
  local dbname="$1"
  shift
  psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
    --username "${POSTGRES_USER}" --dbname "${dbname}" "$@"
}

initialise() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "${POSTGRES_USER}"
  file_env POSTGRES_INITDB_ARGS
  local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [[ -z "${POSTGRES_PASSWORD}" && "${auth}" != trust ]]; then
    die "the database is uninitialised and POSTGRES_PASSWORD is not set. Set it (or
POSTGRES_PASSWORD_FILE); POSTGRES_HOST_AUTH_METHOD=trust allows connections
without a password and is NOT recommended."
  fi

  log "initialising ${PGDATA} for superuser ${POSTGRES_USER}"
  local initdb_args=(--username="${POSTGRES_USER}" --auth-local=trust --auth-host="${auth}")
  if [[ -n "${POSTGRES_PASSWORD}" ]]; then
    # From stdin: never on disk, never in a process listing.
    initdb_args+=(--pwfile=/dev/stdin)
  fi
  # POSTGRES_INITDB_ARGS is a shell-style argument string by contract.
  # shellcheck disable=SC2086
  initdb -D "${PGDATA}" "${initdb_args[@]}" ${POSTGRES_INITDB_ARGS} >/dev/null <<<"${POSTGRES_PASSWORD}"
  # initdb only admits loopback over TCP; a container is reached from its
  # network, so every address gets the same (password) method.
  printf '\n# Added by the container entrypoint: clients come from the network.\nhost all all all %s\n' \
    "${auth}" >> "${PGDATA}/pg_hba.conf"

  # A socket-only temporary server: nothing can connect before the database
  # and the init scripts are done.
  pg_ctl -D "${PGDATA}" -o "-c listen_addresses='' -p 5432" -w -s start
  if [[ "${POSTGRES_DB}" != postgres ]]; then
    psql_local postgres -v db="${POSTGRES_DB}" <<'SQL' >/dev/null
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "${f}" in
      *.sh)
        # Executable scripts run on their own; others are sourced, so they
        # see this script's functions and variables (the official behaviour).
        if [[ -x "${f}" ]]; then
          log "running ${f}"
          "${f}"
        else
          log "sourcing ${f}"
          # shellcheck disable=SC1090
          source "${f}"
        fi
        ;;
      *.sql) log "running ${f}"; psql_local "${POSTGRES_DB}" -f "${f}" >/dev/null ;;
      *.sql.gz) log "running ${f}"; gzip -dc "${f}" | psql_local "${POSTGRES_DB}" >/dev/null ;;
      */\*) ;;
      *) log "ignoring ${f}" ;;
    esac
  done
  pg_ctl -D "${PGDATA}" -m fast -w -s stop
  log "initialisation complete"
}

# Flags alone mean "postgres with these flags", as in the official image.
if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi
if [[ "${1:-}" != postgres ]]; then
  exec "$@"
fi

if [[ "$(id -u)" == 0 ]]; then
  mkdir -p "${PGDATA}"
  # Only what is not postgres's already: a large data directory on a slow
  # volume should not be walked and rewritten at every start.
  find "${PGDATA}" \! -user postgres -exec chown postgres:postgres '{}' +
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# PGDATA may be a subdirectory of a mounted volume (whose root holds
# lost+found, or belongs to root with group write for fsGroup).
mkdir -p "${PGDATA}"
chmod 0700 "${PGDATA}" 2>/dev/null || log "cannot chmod ${PGDATA}; postgres will say if that matters"
if [[ ! -s "${PGDATA}/PG_VERSION" ]]; then
  initialise
fi
exec "$@"
