#!/usr/bin/env bash
# Build the local image registry's image from the distribution registry that
# toolchain/build.sh compiles (Go module github.com/distribution/distribution/v3):
#
#   toolchain/build-registry.sh     prints the image reference on stdout
#
# The image is orchestrator-k3s/registry:<version the go.mod pins>, FROM
# scratch, rebuilt only when its inputs change (the binary's build stamp and
# toolchain/images/registry, hashed into a label). roles/image_registry runs it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"

TOOLCHAIN="${ORCHESTRATOR_ROOT}/toolchain"
BIN="${ORCHESTRATOR_CACHE}/bin"
INPUTS_LABEL="org.orchestrator-k3s.inputs"
export DOCKER_BUILDKIT=0

"${TOOLCHAIN}/build.sh" registry >&2
version="$(awk '$1 == "github.com/distribution/distribution/v3" { print $2; exit }' "${TOOLCHAIN}/registry/go.mod")"
[[ -n "${version}" ]] || die "toolchain/registry/go.mod pins no github.com/distribution/distribution/v3"
ref="${ORCHESTRATOR_IMAGE_PREFIX:-orchestrator-k3s}/registry:${version}"
src="${TOOLCHAIN}/images/registry"
hash="$({
  cat "${BIN}/.stamps/registry"
  (cd "${src}" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} | sha256sum | cut -d' ' -f1)"
current="$(docker image inspect -f "{{index .Config.Labels \"${INPUTS_LABEL}\"}}" "${ref}" 2>/dev/null || true)"
if [[ "${current}" != "${hash}" ]]; then
  context="${ORCHESTRATOR_CACHE}/contexts/registry"
  rm -rf "${context}"
  mkdir -p "${context}/storage"
  cp -a "${src}/." "${context}/"
  ln -f "${BIN}/registry" "${context}/registry" 2>/dev/null || cp "${BIN}/registry" "${context}/registry"
  log_file="${ORCHESTRATOR_CACHE}/build-logs/registry-image.log"
  mkdir -p "$(dirname "${log_file}")"
  if ! docker build --label "${INPUTS_LABEL}=${hash}" -t "${ref}" "${context}" >"${log_file}" 2>&1; then
    tail -n 30 "${log_file}" >&2
    die "building ${ref} failed (full log: ${log_file})"
  fi
  rm -rf "${context}"
  log registry "built ${ref}" >&2
fi
echo "${ref}"
