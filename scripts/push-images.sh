#!/usr/bin/env bash
# Tag local images for a registry and push them:
#
#   scripts/push-images.sh SOURCE=TARGET...
#
# SOURCE is a local image (orchestrator-k3s/vote:0.2.0), TARGET its name in
# the registry (10.213.7.5:5000/vote:0.2.0-1a2b3c4d5e6f). One line per
# TARGET: "pushed TARGET" when the registry's tag now points at another
# digest than before, "unchanged TARGET" when it already held this image.
# Credentials, if the registry needs any: REGISTRY_USERNAME and
# REGISTRY_PASSWORD in the environment (`docker login --password-stdin`;
# never on a command line).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $# -gt 0 ]] || die "usage: scripts/push-images.sh SOURCE=TARGET..."
python="${ORCHESTRATOR_ROOT}/.venv/bin/python"
[[ -x "${python}" ]] || python=python3
tags="${ORCHESTRATOR_ROOT}/scripts/registry_tags.py"

if [[ -n "${REGISTRY_USERNAME:-}" ]]; then
  registry_host="${1#*=}"
  registry_host="${registry_host%%/*}"
  printf '%s' "${REGISTRY_PASSWORD:-}" \
    | docker login --username "${REGISTRY_USERNAME}" --password-stdin "${registry_host}" >/dev/null \
    || die "docker login to ${registry_host} as ${REGISTRY_USERNAME} failed"
fi

# What each TARGET was last pushed from: "<image id> <digest>" per target, so
# that an image the registry's tag still points at is not pushed again (a
# push of unchanged layers still costs a round of requests per image).
pushes="${ORCHESTRATOR_CACHE}/registry-pushes"
mkdir -p "${pushes}"

# digest TARGET: what the registry's tag points at now ("missing" if nothing).
digest() {
  local out rc=0
  out="$("${python}" "${tags}" "$1")" || rc=$?
  [[ ${rc} -le 1 ]] || die "cannot ask the registry about $1"
  echo "${out##* }"
}

for pair in "$@"; do
  [[ "${pair}" == *=* ]] || die "'${pair}' is not SOURCE=TARGET"
  source_ref="${pair%%=*}"
  target="${pair#*=}"
  docker image inspect "${source_ref}" >/dev/null 2>&1 || die "no local image ${source_ref} (scripts/build-images.sh builds it)"
  before="$(digest "${target}")"
  image_id="$(docker image inspect --format '{{.Id}}' "${source_ref}")"
  stamp="${pushes}/$(printf '%s' "${target}" | tr -c 'A-Za-z0-9._-' '_')"
  if [[ "${before}" != missing && -f "${stamp}" && "$(cat "${stamp}")" == "${image_id} ${before}" ]]; then
    echo "unchanged ${target}"
    continue
  fi
  docker tag "${source_ref}" "${target}"
  if ! output="$(docker push "${target}" 2>&1)"; then
    printf '%s\n' "${output}" | tail -n 5 >&2
    die "pushing ${target} failed"
  fi
  docker image rm "${target}" >/dev/null 2>&1 || true
  after="$(digest "${target}")"
  printf '%s %s\n' "${image_id}" "${after}" > "${stamp}"
  if [[ "${after}" == "${before}" ]]; then
    echo "unchanged ${target}"
  else
    echo "pushed ${target}"
  fi
done
