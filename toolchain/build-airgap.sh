#!/usr/bin/env bash
# Build the kubeadm engine's air-gap folder: node binaries, every image a
# kubeadm cluster with its add-ons runs, and their checksums.
#
#   toolchain/build-airgap.sh [--dest DIR] [--force]
#
#   --dest DIR  where to write (default ${ORCHESTRATOR_CACHE}/airgap/kubeadm-v1.34.2)
#   --force     rebuild and re-save every image
#
# Layout of DIR (docs/toolchain.md has the details):
#   bin/{kubelet,kubeadm,kubectl}    node binaries
#   cni/flannel                      the flannel CNI plugin (/opt/cni/bin/flannel on nodes)
#   images/<ref, / and : as _>.tar   one `docker save` per image
#   images.txt                       the image references, one per line
#   versions.env                     KEY=value: versions and image references
#   sha256sum.txt                    every file above (`sha256sum -c` in DIR)
#
# toolchain/build.sh builds the programs first (cached per program). Images
# are built locally (no registry is reachable here), tagged exactly as
# kubeadm and the add-ons' manifests name them, and rebuilt only when their
# inputs change: Dockerfile folder, binaries (their build stamps), base image
# ID and build arguments, hashed into a label on the image. An image is
# saved again only when its ID changed, so a run with nothing changed takes
# a few seconds. Bookkeeping (saved IDs, checksums) is kept beside DIR in
# .state-<name of DIR>, outside the layout.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"

K8S_VERSION="v1.34.2"
TOOLCHAIN="${ORCHESTRATOR_ROOT}/toolchain"
BIN="${ORCHESTRATOR_CACHE}/bin"
DEBIAN_IMAGE="local/debian:bookworm"
INPUTS_LABEL="org.orchestrator-k3s.inputs"
BUILT_AS_LABEL="org.orchestrator-k3s.built-as"
# Bump when this script changes how it builds images.
RECIPE=1
# The classic builder resolves FROM against local images only.
export DOCKER_BUILDKIT=0

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit "${1:-2}"
}

dest="${ORCHESTRATOR_CACHE}/airgap/kubeadm-${K8S_VERSION}"
force=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dest) [[ $# -ge 2 && -n "$2" ]] || usage; dest="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) usage 0 ;;
    *) usage ;;
  esac
done
dest="$(realpath -m "${dest}")"
state="$(dirname "${dest}")/.state-$(basename "${dest}")"

"${TOOLCHAIN}/build.sh"
mkdir -p "${state}"
# One writer per folder at a time.
exec {lock_fd}>"${state}/.lock"
if ! flock -n "${lock_fd}"; then
  log airgap "waiting for another build-airgap.sh writing ${dest}"
  flock "${lock_fd}"
fi
ensure_docker
"${ORCHESTRATOR_ROOT}/images/base/build-debian-base.sh"
mkdir -p "${dest}/bin" "${dest}/cni" "${dest}/images" "${state}" "${ORCHESTRATOR_CACHE}/build-logs"

# pinned FOLDER MODULE: the version toolchain/FOLDER/go.mod requires MODULE at.
pinned() {
  local v
  v="$(awk -v m="$2" '$1 == "require" && $2 == m { print $3; exit } $1 == m && $2 ~ /^v/ { print $2; exit }' \
    "${TOOLCHAIN}/$1/go.mod")"
  [[ -n "${v}" ]] || die "toolchain/$1/go.mod does not require $2"
  printf '%s' "${v}"
}

# The tags kubeadm itself will ask for; the programs built must match them.
mapfile -t kubeadm_images < <("${BIN}/kubeadm" config images list --kubernetes-version "${K8S_VERSION}")
kubeadm_tag() {
  local ref
  for ref in "${kubeadm_images[@]}"; do
    [[ "${ref}" == "registry.k8s.io/$1:"* ]] && { printf '%s' "${ref##*:}"; return; }
  done
  die "kubeadm ${K8S_VERSION} lists no image registry.k8s.io/$1"
}
etcd_tag="$(kubeadm_tag etcd)"
coredns_tag="$(kubeadm_tag coredns/coredns)"
pause_tag="$(kubeadm_tag pause)"
etcd_module="$(pinned etcd go.etcd.io/etcd/server/v3)"
coredns_module="$(pinned coredns github.com/coredns/coredns)"
[[ "v${etcd_tag%-*}" == "${etcd_module}" ]] \
  || die "kubeadm ${K8S_VERSION} wants etcd ${etcd_tag}, toolchain/etcd/go.mod pins ${etcd_module}"
[[ "${coredns_tag}" == "${coredns_module}" ]] \
  || die "kubeadm ${K8S_VERSION} wants CoreDNS ${coredns_tag}, toolchain/coredns/go.mod pins ${coredns_module}"
[[ "$(grep -o 'VERSION "[^"]*"' "${TOOLCHAIN}/images/pause/pause.c")" == "VERSION \"${pause_tag}\"" ]] \
  || die "kubeadm ${K8S_VERSION} wants pause ${pause_tag}; update VERSION in toolchain/images/pause/pause.c"

flannel_image="ghcr.io/flannel-io/flannel:$(pinned flannel github.com/flannel-io/flannel)"
kube_router_image="docker.io/cloudnativelabs/kube-router:$(pinned kube-router github.com/cloudnativelabs/kube-router/v2)"
metrics_server_image="registry.k8s.io/metrics-server/metrics-server:$(pinned metrics-server sigs.k8s.io/metrics-server)"
local_path_image="docker.io/rancher/local-path-provisioner:$(pinned local-path-provisioner github.com/rancher/local-path-provisioner)"
busybox_image="docker.io/library/busybox:1.35"
traefik_image="docker.io/library/traefik:$(pinned traefik github.com/traefik/traefik/v3)"
pause_image="registry.k8s.io/pause:${pause_tag}"

# The images: REF|FOLDER under toolchain/images|BINARIES (from BIN)|BASE|BUILD-ARGS.
# BASE "debian" builds FROM (or through) the local Debian base, "scratch" not.
IMAGES=(
  "registry.k8s.io/kube-apiserver:${K8S_VERSION}|control-plane|kube-apiserver|scratch|COMPONENT=kube-apiserver"
  "registry.k8s.io/kube-controller-manager:${K8S_VERSION}|control-plane|kube-controller-manager|scratch|COMPONENT=kube-controller-manager"
  "registry.k8s.io/kube-scheduler:${K8S_VERSION}|control-plane|kube-scheduler|scratch|COMPONENT=kube-scheduler"
  "registry.k8s.io/kube-proxy:${K8S_VERSION}|kube-proxy|kube-proxy|debian|"
  "registry.k8s.io/etcd:${etcd_tag}|etcd|etcd|scratch|"
  "registry.k8s.io/coredns/coredns:${coredns_tag}|coredns|coredns|debian|"
  "${pause_image}|pause|pause|scratch|"
  "${flannel_image}|flannel|flanneld|debian|"
  "${kube_router_image}|kube-router|kube-router|debian|"
  "${metrics_server_image}|metrics-server|metrics-server|scratch|"
  "${local_path_image}|local-path-provisioner|local-path-provisioner|scratch|"
  "${busybox_image}|busybox||debian|"
  "${traefik_image}|traefik|traefik|scratch|"
)

debian_id="$(docker image inspect -f '{{.Id}}' "${DEBIAN_IMAGE}")"

# folder_hash DIR: one sha256 over the names and contents of DIR's files.
folder_hash() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
}

# build_image REF FOLDER BINARIES BASE ARGS: build unless the image's label
# already holds the hash of these inputs; prints built or cached.
build_image() {
  local ref="$1" folder="$2" binaries="$3" base="$4" args="$5"
  local src="${TOOLCHAIN}/images/${folder}" hash current owner b context log_file old_id new_id
  local build_args=()
  for b in ${binaries}; do
    [[ -x "${BIN}/${b}" && -f "${BIN}/.stamps/${b}" ]] || die "${b} is not built (toolchain/build.sh ${b})"
  done
  hash="$({
    printf '%s\n' "recipe=${RECIPE}" "ref=${ref}" "args=${args}" "folder=$(folder_hash "${src}")"
    [[ "${base}" == scratch ]] || echo "base=${debian_id}"
    for b in ${binaries}; do echo "${b}=$(cat "${BIN}/.stamps/${b}")"; done
  } | sha256sum | cut -d' ' -f1)"
  read -r current owner < <(docker image inspect \
    -f "{{index .Config.Labels \"${INPUTS_LABEL}\"}} {{index .Config.Labels \"${BUILT_AS_LABEL}\"}}" \
    "${ref}" 2>/dev/null || true) || true
  if [[ "${force}" == 0 && "${owner:-}" == "${ref}" && "${current:-}" == "${hash}" ]]; then
    echo cached
    return
  fi
  context="${ORCHESTRATOR_CACHE}/contexts/airgap/${folder}"
  rm -rf "${context}"
  mkdir -p "${context}"
  cp -a "${src}/." "${context}/"
  for b in ${binaries}; do
    # A hard link when the cache is one file system: no 100 MB copies.
    ln -f "${BIN}/${b}" "${context}/${b}" 2>/dev/null || cp "${BIN}/${b}" "${context}/${b}"
  done
  [[ "${base}" == scratch ]] || build_args+=(--build-arg "BASE_IMAGE=${DEBIAN_IMAGE}")
  [[ -z "${args}" ]] || build_args+=(--build-arg "${args}")
  old_id="$(docker image inspect -f '{{.Id}}' "${ref}" 2>/dev/null || true)"
  log_file="${ORCHESTRATOR_CACHE}/build-logs/$(tr '/:' '__' <<<"${ref}").log"
  if ! docker build "${build_args[@]}" --label "${INPUTS_LABEL}=${hash}" --label "${BUILT_AS_LABEL}=${ref}" \
    -t "${ref}" "${context}" >"${log_file}" 2>&1; then
    tail -n 30 "${log_file}" >&2
    die "building ${ref} failed (full log: ${log_file})"
  fi
  rm -rf "${context}"
  # Drop the image this one replaced when nothing else holds it.
  new_id="$(docker image inspect -f '{{.Id}}' "${ref}")"
  if [[ -n "${old_id}" && "${old_id}" != "${new_id}" && "${owner:-}" == "${ref}" ]]; then
    docker image rm "${old_id}" >/dev/null 2>&1 || true
  fi
  echo built
}

# sha_of FILE KEY: FILE's sha256, remembered in the state folder under KEY
# (the image ID or build stamp it was made from) so unchanged large files
# are not read again.
sha_of() {
  local file="$1" key="$2" memo
  memo="${state}/$(tr '/' '_' <<<"${file#"${dest}/"}").sha256"
  if [[ -f "${memo}" && "$(sed -n 1p "${memo}")" == "${key}" && -f "${file}" ]]; then
    sed -n 2p "${memo}"
    return
  fi
  printf '%s\n%s\n' "${key}" "$(sha256sum "${file}" | cut -d' ' -f1)" > "${memo}"
  sed -n 2p "${memo}"
}

checksums=()

# --- binaries -----------------------------------------------------------------
copy_binary() {
  local name="$1" target="${dest}/$2" key
  key="$(cat "${BIN}/.stamps/${name}")"
  if [[ ! -f "${target}" || "$(cat "${state}/$(tr '/' '_' <<<"$2").stamp" 2>/dev/null)" != "${key}" ]]; then
    cp "${BIN}/${name}" "${target}.partial"
    chmod 0755 "${target}.partial"
    mv -f "${target}.partial" "${target}"
    printf '%s' "${key}" > "${state}/$(tr '/' '_' <<<"$2").stamp"
  fi
  checksums+=("$(sha_of "${target}" "${key}")  $2")
}
copy_binary kubelet bin/kubelet
copy_binary kubeadm bin/kubeadm
copy_binary kubectl bin/kubectl
copy_binary flannel-cni cni/flannel

# --- images -------------------------------------------------------------------
refs=()
files=()
for entry in "${IMAGES[@]}"; do
  IFS='|' read -r ref folder binaries base args <<<"${entry}"
  started="$(date +%s)"
  status="$(build_image "${ref}" "${folder}" "${binaries}" "${base}" "${args}")"
  file="images/$(tr '/:' '__' <<<"${ref}").tar"
  id="$(docker image inspect -f '{{.Id}}' "${ref}")"
  saved="unchanged"
  if [[ ! -f "${dest}/${file}" || "$(cat "${state}/${file#images/}.id" 2>/dev/null)" != "${id}" ]]; then
    docker save -o "${dest}/${file}.partial" "${ref}"
    mv -f "${dest}/${file}.partial" "${dest}/${file}"
    printf '%s' "${id}" > "${state}/${file#images/}.id"
    saved="saved"
  fi
  checksums+=("$(sha_of "${dest}/${file}" "${id}")  ${file}")
  refs+=("${ref}")
  files+=("${file#images/}")
  printf '%-56s %-7s %-9s %4ss\n' "${ref}" "${status}" "${saved}" "$(($(date +%s) - started))"
done
# Tarballs of images no longer in the list go (a version bump renames them).
for tar in "${dest}"/images/*.tar; do
  [[ -e "${tar}" ]] || continue
  [[ " ${files[*]} " == *" ${tar##*/} "* ]] || { rm -f "${tar}" "${state}/${tar##*/}.id"; log airgap "removed stale ${tar##*/}"; }
done

# --- lists, versions, checksums ------------------------------------------------
# write_if_changed FILE: stdin into FILE, leaving FILE untouched when equal.
write_if_changed() {
  local tmp="$1.partial"
  cat > "${tmp}"
  if cmp -s "${tmp}" "$1"; then rm -f "${tmp}"; else mv -f "${tmp}" "$1"; fi
}
printf '%s\n' "${refs[@]}" | write_if_changed "${dest}/images.txt"
write_if_changed "${dest}/versions.env" <<EOF
KUBERNETES_VERSION=${K8S_VERSION}
ETCD_IMAGE_TAG=${etcd_tag}
COREDNS_IMAGE_TAG=${coredns_tag}
PAUSE_IMAGE=${pause_image}
FLANNEL_IMAGE=${flannel_image}
KUBE_ROUTER_IMAGE=${kube_router_image}
METRICS_SERVER_IMAGE=${metrics_server_image}
LOCAL_PATH_PROVISIONER_IMAGE=${local_path_image}
BUSYBOX_IMAGE=${busybox_image}
TRAEFIK_IMAGE=${traefik_image}
EOF
for f in images.txt versions.env; do
  checksums+=("$(sha256sum "${dest}/${f}" | cut -d' ' -f1)  ${f}")
done
printf '%s\n' "${checksums[@]}" | write_if_changed "${dest}/sha256sum.txt"
log airgap "ready: ${dest} ($(du -sh "${dest}" | cut -f1), ${#refs[@]} images)"
