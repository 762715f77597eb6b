#!/usr/bin/env bash
# Shared helpers for the project's shell scripts: logging with elapsed time,
# the cache location, and idempotent installs. Source it; do not execute it.

ORCHESTRATOR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORCHESTRATOR_CACHE="${ORCHESTRATOR_CACHE:-${HOME}/.cache/orchestrator-k3s}"
export ORCHESTRATOR_ROOT ORCHESTRATOR_CACHE
_ORCH_T0="${_ORCH_T0:-$(date +%s)}"
export _ORCH_T0

# log STEP MESSAGE: one line per step, with seconds since the script began.
log() {
  local now
  now="$(date +%s)"
  printf '[%4ss] %-10s %s\n' "$((now - _ORCH_T0))" "$1" "${*:2}" >&2
}

die() {
  log error "$*"
  exit 1
}

# hash_inputs FILE...: one sha256 over the contents of files (sorted by name),
# used as a cache key so a rebuild is skipped when nothing it reads changed.
hash_inputs() {
  local f
  for f in "$@"; do
    # Relative names: the key must not change between clones of the repo.
    printf '%s\n' "${f#"${ORCHESTRATOR_ROOT}/"}"
    cat "$f"
  done | sha256sum | cut -d' ' -f1
}

# apt_install PKG...: install Debian packages that are missing (root only).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]} (install them, or run as root)"
  log apt "installing ${missing[*]}"
  if [[ ! -f /var/lib/apt/periodic/orchestrator-updated ]] || \
     [[ -n "$(find /var/lib/apt/periodic/orchestrator-updated -mmin +720 2>/dev/null)" ]]; then
    apt-get update -qq
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/orchestrator-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_docker: start the Docker daemon when it is not answering. There is no
# systemd on CI hosts, so the daemon is started in its own session.
ensure_docker() {
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  command -v dockerd >/dev/null || apt_install docker.io
  if ! docker info >/dev/null 2>&1; then
    log docker "starting dockerd"
    setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
    local _
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && return 0
      sleep 1
    done
    die "dockerd did not start: see /var/log/dockerd.log"
  fi
}
