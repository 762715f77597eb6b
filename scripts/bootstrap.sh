#!/usr/bin/env bash
# Install everything `make test` and `./orchestrator.sh` need on a Debian host,
# and nothing twice: Debian packages, the Docker daemon, the Python venv.
#
#   scripts/bootstrap.sh [--no-apt]
#
# --no-apt (or ORCHESTRATOR_NO_APT=1): never install system packages; report
# what is missing instead (what a user's laptop wants).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

no_apt="${ORCHESTRATOR_NO_APT:-0}"
[[ "${1:-}" == "--no-apt" ]] && no_apt=1

# Debian packages: the Docker engine and image tooling, the real servers the
# app tests start, the browser for the UI test, and build/lint helpers.
APT_PACKAGES=(
  docker.io docker-compose debootstrap
  redis-server postgresql rabbitmq-server
  chromium chromium-driver
  python3-venv git rsync openssl gcc libsqlite3-dev pkg-config
  wrk curl ca-certificates vagrant openssh-client
  # Vagrant's libvirt provider, so `vagrant validate` checks the libvirt block
  # (tests/e2e/test_vagrantfile.py); no VM runs here.
  vagrant-libvirt
)

# Node.js: any install that provides node and npm will do (Debian's, or the
# NodeSource one some machines ship, whose nodejs package conflicts with
# Debian's npm), so the packages are added only when the commands are missing.
command -v node >/dev/null && command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)

if [[ "${no_apt}" == 1 ]]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] || die "missing packages: ${missing[*]}"
else
  apt_install "${APT_PACKAGES[@]}"
fi

ensure_docker

# The venv is rebuilt only when the pinned requirements change.
venv="${ORCHESTRATOR_ROOT}/.venv"
reqs=("${ORCHESTRATOR_ROOT}/requirements-dev.txt" "${ORCHESTRATOR_ROOT}"/apps/*/requirements.txt)
key="$(hash_inputs "${reqs[@]}")"
if [[ ! -x "${venv}/bin/python" ]] || [[ "$(cat "${venv}/.requirements-hash" 2>/dev/null)" != "${key}" ]]; then
  log venv "installing Python requirements into .venv"
  [[ -x "${venv}/bin/python" ]] || python3 -m venv "${venv}"
  "${venv}/bin/pip" install -q --upgrade pip
  args=()
  for r in "${reqs[@]}"; do args+=(-r "$r"); done
  "${venv}/bin/pip" install -q "${args[@]}"
  printf '%s' "${key}" > "${venv}/.requirements-hash"
fi
log bootstrap "ready (cache: ${ORCHESTRATOR_CACHE})"
