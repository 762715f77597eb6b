#!/usr/bin/env bash
# checkov over what we ship: the manifests the stack module renders for both
# stacks in dev and prod, and every Dockerfile. checkov lives in its own venv
# in the cache (its dependency tree conflicts with ansible-lint's pins).
# Findings are fixed, or skipped inline with a reason next to the object
# (checkov.io/skip annotations in templates, `# checkov:skip=` in Dockerfiles).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "${ORCHESTRATOR_ROOT}"

CHECKOV_VERSION="3.3.30"
venv="${ORCHESTRATOR_CACHE}/checkov-venv"
if [[ "$("${venv}/bin/checkov" --version 2>/dev/null)" != "${CHECKOV_VERSION}" ]]; then
  log checkov "installing checkov ${CHECKOV_VERSION} into ${venv}"
  python3 -m venv "${venv}"
  "${venv}/bin/pip" install -q "checkov==${CHECKOV_VERSION}"
fi

rendered="$(mktemp -d)"
trap 'rm -rf "${rendered}"' EXIT
log checkov "rendering both stacks for dev and prod"
"${ORCHESTRATOR_ROOT}/.venv/bin/ansible-playbook" -i inventory/hosts.yml \
  playbooks/render.yml -e "render_dest=${rendered}" >"${rendered}.log" 2>&1 || {
  cat "${rendered}.log"; die "rendering the stacks failed"; }
rm -f "${rendered}.log"

log checkov "kubernetes manifests"
"${venv}/bin/checkov" --skip-download --quiet --compact --framework kubernetes -d "${rendered}"
log checkov "Dockerfiles"
"${venv}/bin/checkov" --skip-download --quiet --compact --framework dockerfile -d apps -d images -d toolchain/images
