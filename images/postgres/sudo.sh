#!/usr/bin/env bash
# sudo for this container, which can never raise privileges. The crud audit
# runs `sudo -i -u postgres` then `psql` in the database pod; the pod runs as
# uid 999 (postgres) with allowPrivilegeEscalation: false, i.e. no_new_privs,
# under which a setuid sudo cannot work, and shipping a setuid root binary in
# a database image would only add a way up. So this sudo does what needs no
# privilege and refuses the rest:
#   - becoming the user you already are (postgres -> postgres): the audit;
#   - as root (docker exec as root), dropping to any user with setpriv.
# Supported: -i (login shell, with /etc/profile.d/postgres-login.sh), -u USER,
# and -E/-H accepted as no-ops; a command may follow.
set -euo pipefail

me="sudo (container stand-in, see /usr/local/bin/sudo)"
refuse() {
  printf 'sudo: %s\n' "$*" >&2
  exit 1
}

login=0
target=root
while getopts ':iu:EH' opt; do
  case "${opt}" in
    i) login=1 ;;
    u) target="${OPTARG}" ;;
    E | H) ;;
    :) refuse "option -${OPTARG} needs an argument" ;;
    *) refuse "option -${OPTARG} is not supported by this ${me}" ;;
  esac
done
shift $((OPTIND - 1))
if [[ "${login}" == 0 && $# -eq 0 ]]; then
  refuse "usage: sudo [-i] [-u user] [command [arg ...]]"
fi

IFS=: read -r name _ uid gid _ home shell < <(getent passwd "${target}") \
  || refuse "unknown user: ${target}"
current="$(id -u)"
if [[ "${uid}" == "${current}" ]]; then
  switch=()
elif [[ "${current}" == 0 ]]; then
  # Root without CAP_SETUID (a container started as 999 with
  # no-new-privileges, then entered as root) cannot switch either.
  capeff=0
  while read -r key value; do
    [[ "${key}" == CapEff: ]] && capeff="${value}"
  done < /proc/self/status
  (((16#${capeff} >> 7) & 1)) \
    || refuse "root has no CAP_SETUID in this container (no-new-privileges): enter it as uid 999 instead."
  switch=(setpriv --reuid="${uid}" --regid="${gid}" --init-groups)
else
  refuse "$(id -un) cannot become ${name}: this container has no setuid sudo and" \
    "allows no privilege escalation. 'sudo -u $(id -un)' works, and root may become anyone."
fi

if [[ "${login}" == 1 ]]; then
  # A login shell starts from a clean environment, as sudo -i does, keeping
  # what the profile needs to find the container's superuser and database.
  keep=()
  for var in TERM POSTGRES_USER POSTGRES_USER_FILE POSTGRES_DB POSTGRES_DB_FILE PGDATA LANG; do
    [[ -n "${!var:-}" ]] && keep+=("${var}=${!var}")
  done
  env_args=(env -i "${keep[@]}" HOME="${home}" USER="${name}" LOGNAME="${name}" SHELL="${shell}"
    PATH="/usr/local/bin:/usr/bin:/bin")
  cd "${home}" 2>/dev/null || cd /
  if [[ $# -eq 0 ]]; then
    exec "${switch[@]}" "${env_args[@]}" "${shell}" -l
  fi
  # sudo -i hands a command to the login shell as one line, each argument
  # quoted so it arrives as given.
  exec "${switch[@]}" "${env_args[@]}" "${shell}" -l -c "$(printf '%q ' "$@")"
fi
exec "${switch[@]}" env HOME="${home}" USER="${name}" LOGNAME="${name}" "$@"
