#!/usr/bin/env bash
# Build every image the project runs, locally: no registry is reachable here,
# so the Debian base, the language bases, the data services, the node image
# and the six apps are all built from this tree, in dependency order.
#
#   scripts/build-images.sh [--tag TAG]... [--save DIR] [--force] [NAME...]
#
# NAME: base python-base node-base postgres redis rabbitmq nginx node, or an
# app (vote worker result api-gateway inventory-app billing-app); default all.
# A name pulls in what it is built FROM (an app its language base).
#   --tag TAG   tag the apps TAG (repeatable; each is built with
#               APP_VERSION=TAG); default apps/<app>/VERSION, else 0.1.0.
#   --save DIR  also `docker save` each image to DIR/<name>.tar, for
#               importing on machines without a registry.
#   --force     rebuild even when the inputs are unchanged.
#
# An image is rebuilt only when its inputs change: the files of its build
# context, its build arguments and the ID of the image it is built FROM,
# hashed into a label on the image. So a base rebuilt with a security update
# rebuilds everything on top, and a second run with nothing changed takes
# seconds. Env: ORCHESTRATOR_IMAGE_PREFIX (default orchestrator-k3s), and
# ORCHESTRATOR_EXTRA_CA_DIR (default /usr/local/share/ca-certificates): *.crt
# there are trusted by the language bases, for TLS-intercepting networks.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

# The classic builder resolves FROM against local images only, and needs no
# buildx plugin (Debian's docker.io ships none).
export DOCKER_BUILDKIT=0

prefix="${ORCHESTRATOR_IMAGE_PREFIX:-orchestrator-k3s}"
extra_ca_dir="${ORCHESTRATOR_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
inputs_label="org.orchestrator-k3s.inputs"
# Labels are inherited by child images; this one says which image the label
# set was made for, so an app built elsewhere FROM a base is not taken for
# one this script built.
built_as_label="org.orchestrator-k3s.built-as"
# Bump when this script changes how it builds, to invalidate every label.
recipe=1
debian_image="local/debian:bookworm"
apps=(vote worker result api-gateway inventory-app billing-app)
infra=(python-base node-base postgres redis rabbitmq nginx node)

# Image reference of each non-app image.
declare -A image_ref=(
  [python-base]="${prefix}/python-base:bookworm"
  [node-base]="${prefix}/node-base:bookworm"
  [postgres]="${prefix}/postgres:15"
  [redis]="${prefix}/redis:7"
  [rabbitmq]="${prefix}/rabbitmq:3-management"
  [nginx]="${prefix}/nginx:bookworm"
  [node]="${prefix}/node:bookworm"
)

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit "${1:-2}"
}

tags=()
save_dir=""
force=0
wanted=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) [[ $# -ge 2 ]] || usage; tags+=("$2"); shift 2 ;;
    --save) [[ $# -ge 2 ]] || usage; save_dir="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) usage 0 ;;
    -*) usage ;;
    *) wanted+=("$1"); shift ;;
  esac
done

# app_base APP: the language base an app is built FROM. A package.json makes
# it a Node.js app; everything else here is Python.
app_base() {
  if [[ -f "${ORCHESTRATOR_ROOT}/apps/$1/package.json" ]]; then
    echo node-base
  else
    echo python-base
  fi
}

# Resolve the requested names into the build list, bases first.
declare -A selected=()
select_name() {
  local name="$1"
  case " base ${infra[*]} ${apps[*]} " in
    *" ${name} "*) ;;
    *) die "unknown image: ${name} (see --help)" ;;
  esac
  selected[${name}]=1
  selected[base]=1
  if [[ " ${apps[*]} " == *" ${name} "* ]]; then
    selected[$(app_base "${name}")]=1
  fi
}
if [[ ${#wanted[@]} -eq 0 ]]; then
  wanted=(base "${infra[@]}" "${apps[@]}")
fi
for name in "${wanted[@]}"; do
  select_name "${name}"
done

ensure_docker
mkdir -p "${ORCHESTRATOR_CACHE}/build-logs" "${ORCHESTRATOR_CACHE}/contexts"
[[ -z "${save_dir}" ]] || mkdir -p "${save_dir}"

# report REF STATUS SECONDS [SAVED]: the one line per image.
report() {
  printf '%-48s %-8s %4ss%s\n' "$1" "$2" "$3" "${4:+  $4}"
}

# context_hash DIR: one sha256 over the names and contents of the files a
# build can see. Caches and dependency trees that .dockerignore files keep
# out are skipped, so installing node_modules for tests rebuilds nothing.
context_hash() {
  (
    cd "$1"
    find . -type f \
      -not -path '*/node_modules/*' -not -path '*/__pycache__/*' \
      -not -path '*/.pytest_cache/*' -not -path '*/.ruff_cache/*' \
      -not -path '*/.venv/*' -not -name '*.pyc' -print0 \
      | LC_ALL=C sort -z | xargs -0 -r sha256sum
  ) | sha256sum | cut -d' ' -f1
}

# save_image REF: docker save REF into the save directory unless the tarball
# there already holds this very image (its ID is kept beside it).
save_image() {
  local ref="$1" file id
  file="${save_dir}/$(tr '/:' '__' <<<"${ref}").tar"
  id="$(docker image inspect -f '{{.Id}}' "${ref}")"
  if [[ -f "${file}" && "$(cat "${file}.id" 2>/dev/null)" == "${id}" ]]; then
    echo "save: unchanged"
    return
  fi
  docker save -o "${file}.partial" "${ref}"
  mv "${file}.partial" "${file}"
  printf '%s\n' "${id}" > "${file}.id"
  echo "saved: ${file}"
}

# build REF CONTEXT FROM_IMAGE [--build-arg K=V]...: build unless the label on
# REF already carries the hash of these inputs.
build() {
  local ref="$1" context="$2" from="$3"
  shift 3
  local started status from_id hash current owner old_id new_id log_file saved=""
  started="$(date +%s)"
  from_id="$(docker image inspect -f '{{.Id}}' "${from}")"
  hash="$(printf '%s\n' "recipe=${recipe}" "ref=${ref}" "from=${from_id}" "$@" \
    "context=$(context_hash "${context}")" | sha256sum | cut -d' ' -f1)"
  read -r current owner < <(docker image inspect \
    -f "{{index .Config.Labels \"${inputs_label}\"}} {{index .Config.Labels \"${built_as_label}\"}}" \
    "${ref}" 2>/dev/null || true) || true
  if [[ "${owner:-}" != "${ref}" ]]; then
    current=""
  fi
  if [[ "${force}" == 0 && "${current}" == "${hash}" ]]; then
    status=cached
  else
    old_id="$(docker image inspect -f '{{.Id}}' "${ref}" 2>/dev/null || true)"
    log_file="${ORCHESTRATOR_CACHE}/build-logs/$(tr '/:' '__' <<<"${ref}").log"
    if ! docker build --build-arg "BASE_IMAGE=${from}" "$@" \
      --label "${inputs_label}=${hash}" --label "${built_as_label}=${ref}" \
      -t "${ref}" "${context}" >"${log_file}" 2>&1; then
      tail -n 30 "${log_file}" >&2
      die "building ${ref} failed (full log: ${log_file})"
    fi
    status=built
    # The image this one replaces, if this script built it and nothing else
    # holds it (a tag, a container, a child image): disk is not infinite.
    new_id="$(docker image inspect -f '{{.Id}}' "${ref}")"
    if [[ -n "${current}" && -n "${old_id}" && "${old_id}" != "${new_id}" ]]; then
      docker image rm "${old_id}" >/dev/null 2>&1 || true
    fi
  fi
  [[ -z "${save_dir}" ]] || saved="$(save_image "${ref}")"
  report "${ref}" "${status}" "$(($(date +%s) - started))" "${saved}"
}

# stage_context NAME: a copy of images/NAME to build from, when the build
# needs files from outside the tree; printed path.
stage_context() {
  local dir="${ORCHESTRATOR_CACHE}/contexts/$1"
  rm -rf "${dir}"
  mkdir -p "${dir}"
  cp -a "${ORCHESTRATOR_ROOT}/images/$1/." "${dir}/"
  echo "${dir}"
}

# vagrant_public_key: Vagrant's insecure public key from Debian's vagrant
# package (the private half stays in that package, never in this tree).
vagrant_public_key() {
  local pattern='/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub'
  compgen -G "${pattern}" >/dev/null || apt_install vagrant
  compgen -G "${pattern}" | sort -V | tail -n 1
}

# extra_ca_certs: the PEM certificates the build host trusts beyond
# Debian's roots (empty on most machines).
extra_ca_certs() {
  local crt
  for crt in "${extra_ca_dir}"/*.crt; do
    [[ -f "${crt}" ]] && cat "${crt}"
  done
  return 0
}

# app_tags APP: the tags to build an app under.
app_tags() {
  if [[ ${#tags[@]} -gt 0 ]]; then
    printf '%s\n' "${tags[@]}"
  elif [[ -s "${ORCHESTRATOR_ROOT}/apps/$1/VERSION" ]]; then
    tr -d '[:space:]' < "${ORCHESTRATOR_ROOT}/apps/$1/VERSION"
    echo
  else
    echo 0.1.0
  fi
}

# --- the Debian base ------------------------------------------------------
started="$(date +%s)"
if docker image inspect "${debian_image}" >/dev/null 2>&1 && [[ "${force}" == 0 ]]; then
  status=present
  "${ORCHESTRATOR_ROOT}/images/base/build-debian-base.sh"
else
  status=built
  "${ORCHESTRATOR_ROOT}/images/base/build-debian-base.sh" --force
fi
saved=""
[[ -z "${save_dir}" ]] || saved="$(save_image "${debian_image}")"
report "${debian_image}" "${status}" "$(($(date +%s) - started))" "${saved}"

# --- language bases, data services, proxy, node ----------------------------
for name in "${infra[@]}"; do
  [[ -n "${selected[${name}]:-}" ]] || continue
  case "${name}" in
    python-base | node-base)
      build "${image_ref[${name}]}" "${ORCHESTRATOR_ROOT}/images/${name}" "${debian_image}" \
        --build-arg "EXTRA_CA_CERTS=$(extra_ca_certs)"
      ;;
    node)
      context="$(stage_context node)"
      cp "$(vagrant_public_key)" "${context}/vagrant.pub"
      build "${image_ref[node]}" "${context}" "${debian_image}"
      ;;
    *)
      build "${image_ref[${name}]}" "${ORCHESTRATOR_ROOT}/images/${name}" "${debian_image}"
      ;;
  esac
done

# --- the apps ----------------------------------------------------------------
for app in "${apps[@]}"; do
  [[ -n "${selected[${app}]:-}" ]] || continue
  [[ -f "${ORCHESTRATOR_ROOT}/apps/${app}/Dockerfile" ]] \
    || die "apps/${app}/Dockerfile is missing"
  while read -r tag; do
    build "${prefix}/${app}:${tag}" "${ORCHESTRATOR_ROOT}/apps/${app}" \
      "${image_ref[$(app_base "${app}")]}" --build-arg "APP_VERSION=${tag}"
  done < <(app_tags "${app}")
done
log images "done"
