#!/usr/bin/env bash
# Build every program the project runs from source into $ORCHESTRATOR_CACHE/bin:
#
#   toolchain/build.sh [--list] [NAME...]     (default: all programs)
#
# What and why: no k3s and no release binary can be had on the machines this
# project is developed on (see docs/toolchain.md), so two things are built
# here, each from an ordinary dependency in a small go.mod under toolchain/
# (no third-party source is in this repo):
#  - the local test bed: kube-apiserver, kube-controller-manager,
#    kube-scheduler (upstream Kubernetes 1.34) on kine/sqlite, kwok nodes;
#  - the kubeadm engine's node binaries (kubelet, kubeadm, kube-proxy,
#    kubectl) and its cluster add-ons: etcd, CoreDNS, flanneld and the
#    flannel CNI plugin, kube-router, metrics-server, local-path-provisioner,
#    Traefik, and pause (a small static C program of ours).
#    toolchain/build-airgap.sh turns them into images and the air-gap folder;
#  - the delivery tools: the CNCF distribution registry (the local image
#    registry) and act (runs the GitHub Actions workflows on this host).
#
# Each program is its own step with its own stamp (${OUT}/.stamps/NAME): the
# hash of its module folder (go.mod, go.sum, our *.go), its build recipe and
# the compiler version. Only a program whose inputs changed is rebuilt; with
# nothing changed the script takes well under a second. One line per program
# says what happened and how long it took.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"

K8S_VERSION="v1.34.2"
TOOLCHAIN="${ORCHESTRATOR_ROOT}/toolchain"
OUT="${ORCHESTRATOR_CACHE}/bin"
STAMPS="${OUT}/.stamps"
# Bump to rebuild every program (a change of how this script builds).
RECIPE=2

export GOMODCACHE="${ORCHESTRATOR_CACHE}/go/mod"
export GOCACHE="${ORCHESTRATOR_CACHE}/go/build"
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOTOOLCHAIN=local

# The programs, in build order: NAME|FOLDER|PACKAGE|CGO|VERSION-LDFLAGS.
# CGO 1: kine (sqlite) and flanneld (its udp backend is C) link glibc
# dynamically; the flannel image is Debian, the build host's release.
# PACKAGE "." is our own main package in FOLDER. In VERSION-LDFLAGS,
# @MODULE@ is replaced by the version FOLDER/go.mod pins for MODULE.
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1"
k8s_ldflags+=" -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean"
PROGRAMS=(
  "kube-apiserver|kubernetes|k8s.io/kubernetes/cmd/kube-apiserver|0|${k8s_ldflags}"
  "kube-controller-manager|kubernetes|k8s.io/kubernetes/cmd/kube-controller-manager|0|${k8s_ldflags}"
  "kube-scheduler|kubernetes|k8s.io/kubernetes/cmd/kube-scheduler|0|${k8s_ldflags}"
  "kubelet|kubernetes|k8s.io/kubernetes/cmd/kubelet|0|${k8s_ldflags}"
  "kubeadm|kubernetes|k8s.io/kubernetes/cmd/kubeadm|0|${k8s_ldflags}"
  "kube-proxy|kubernetes|k8s.io/kubernetes/cmd/kube-proxy|0|${k8s_ldflags}"
  "kubectl|kubernetes|k8s.io/kubernetes/cmd/kubectl|0|${k8s_ldflags}"
  "kine|kine|github.com/k3s-io/kine|1|"
  "kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|0|"
  "etcd|etcd|go.etcd.io/etcd/server/v3|0|"
  "coredns|coredns|.|0|"
  "flanneld|flannel|github.com/flannel-io/flannel|1|-X github.com/flannel-io/flannel/pkg/version.Version=@github.com/flannel-io/flannel@"
  "flannel-cni|flannel-cni|.|0|"
  "kube-router|kube-router|github.com/cloudnativelabs/kube-router/v2/cmd/kube-router|0|-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=@github.com/cloudnativelabs/kube-router/v2@"
  "metrics-server|metrics-server|sigs.k8s.io/metrics-server/cmd/metrics-server|0|-X k8s.io/client-go/pkg/version.gitVersion=@sigs.k8s.io/metrics-server@ -X k8s.io/client-go/pkg/version.gitTreeState=clean"
  "local-path-provisioner|local-path-provisioner|github.com/rancher/local-path-provisioner|0|-X main.VERSION=@github.com/rancher/local-path-provisioner@"
  "traefik|traefik|github.com/traefik/traefik/v3/cmd/traefik|0|-X github.com/traefik/traefik/v3/pkg/version.Version=@github.com/traefik/traefik/v3@"
  "pause|images/pause|pause.c|gcc|"
  "registry|registry|github.com/distribution/distribution/v3/cmd/registry|0|-X github.com/distribution/distribution/v3/version.version=@github.com/distribution/distribution/v3@"
  "act|act|github.com/nektos/act|0|-X main.version=@github.com/nektos/act@"
)

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit "${1:-2}"
}

wanted=()
for arg in "$@"; do
  case "${arg}" in
    -h | --help) usage 0 ;;
    --list) for p in "${PROGRAMS[@]}"; do echo "${p%%|*}"; done; exit 0 ;;
    -*) usage ;;
    *) wanted+=("${arg}") ;;
  esac
done
for name in "${wanted[@]}"; do
  printf '%s\n' "${PROGRAMS[@]}" | grep -q "^${name}|" || die "unknown program: ${name} (toolchain/build.sh --list)"
done

command -v go >/dev/null || die "go is not installed (Debian: golang-go >= 1.24, or the Go toolchain on PATH)"
build_packages=(gcc libc6-dev libsqlite3-dev pkg-config openssl)
# One dpkg query for all (apt_install asks per package: a quarter second).
if [[ "$(dpkg-query -W -f='${Status}\n' "${build_packages[@]}" 2>/dev/null | grep -c 'install ok installed')" \
  != "${#build_packages[@]}" ]]; then
  apt_install "${build_packages[@]}"
fi
mkdir -p "${OUT}" "${STAMPS}" "${GOMODCACHE}" "${GOCACHE}"
# One build at a time per cache (make test and a developer's run may meet).
exec {lock_fd}>"${OUT}/.build.lock"
if ! flock -n "${lock_fd}"; then
  log toolchain "waiting for another toolchain/build.sh to finish"
  flock "${lock_fd}"
fi
go_version="$(go env GOVERSION)"
gcc_version="$(gcc -dumpfullversion)"

# pinned_version FOLDER MODULE: the version FOLDER/go.mod requires MODULE at.
pinned_version() {
  awk -v m="$2" '$1 == "require" && $2 == m { print $3; exit } $1 == m && $2 ~ /^v/ { print $2; exit }' \
    "${TOOLCHAIN}/$1/go.mod"
}

# expand_ldflags FOLDER LDFLAGS: LDFLAGS with each @MODULE@ replaced.
expand_ldflags() {
  local folder="$1" flags="$2" module
  while [[ "${flags}" =~ @([^@ ]+)@ ]]; do
    module="${BASH_REMATCH[1]}"
    flags="${flags//@${module}@/$(pinned_version "${folder}" "${module}")}"
  done
  printf '%s' "${flags}"
}

# The hash of each toolchain folder's inputs (go.mod, go.sum, our sources),
# computed once per run: the seven Kubernetes programs share one folder.
declare -A folder_hashes=()
hash_folder() {
  local files
  [[ -z "${folder_hashes[$1]:-}" ]] || return 0
  mapfile -t files < <(find "${TOOLCHAIN}/$1" -type f \( -name go.mod -o -name go.sum -o -name '*.go' -o -name '*.c' \) \
    -not -name '*_test.go' | LC_ALL=C sort)
  folder_hashes[$1]="$(hash_inputs "${files[@]}")"
}

# step_key NAME FOLDER PACKAGE CGO LDFLAGS: the cache key of one program
# (hash_folder FOLDER must have run in this shell).
step_key() {
  local compiler="go=${go_version}"
  [[ "$4" != gcc ]] || compiler="gcc=${gcc_version}"
  printf '%s\n' "recipe=${RECIPE}" "$@" "${compiler}" "${folder_hashes[$2]}" | sha256sum | cut -d' ' -f1
}

# build_program NAME FOLDER PACKAGE CGO LDFLAGS: compile into OUT/NAME,
# through a temporary name so a running copy is never overwritten mid-way.
build_program() {
  local name="$1" folder="$2" pkg="$3" cgo="$4" flags
  local tmp="${OUT}/.${name}.partial"
  if [[ "${cgo}" == gcc ]]; then
    nice -n 10 gcc -static -O2 -Wall -Wextra -Werror -o "${tmp}" "${TOOLCHAIN}/${folder}/${pkg}"
    strip "${tmp}"
  else
    flags="-s -w $(expand_ldflags "${folder}" "$5")"
    (cd "${TOOLCHAIN}/${folder}" && CGO_ENABLED="${cgo}" nice -n 10 go build -trimpath -ldflags "${flags}" -o "${tmp}" "${pkg}")
  fi
  mv -f "${tmp}" "${OUT}/${name}"
}

total=0
for p in "${PROGRAMS[@]}"; do
  IFS='|' read -r name _ <<<"${p}"
  if [[ ${#wanted[@]} -eq 0 ]] || [[ " ${wanted[*]} " == *" ${name} "* ]]; then
    total=$((total + 1))
  fi
done
n=0
built=0
for p in "${PROGRAMS[@]}"; do
  IFS='|' read -r name folder pkg cgo ldflags <<<"${p}"
  if [[ ${#wanted[@]} -gt 0 ]] && [[ " ${wanted[*]} " != *" ${name} "* ]]; then
    continue
  fi
  n=$((n + 1))
  hash_folder "${folder}"
  key="$(step_key "${name}" "${folder}" "${pkg}" "${cgo}" "${ldflags}")"
  if [[ -x "${OUT}/${name}" && "$(cat "${STAMPS}/${name}" 2>/dev/null)" == "${key}" ]]; then
    continue
  fi
  log toolchain "[${n}/${total}] ${name}: building (toolchain/${folder})"
  started="$(date +%s)"
  rm -f "${STAMPS}/${name}"
  build_program "${name}" "${folder}" "${pkg}" "${cgo}" "${ldflags}" \
    || die "building ${name} failed (toolchain/${folder})"
  printf '%s' "${key}" > "${STAMPS}/${name}"
  built=$((built + 1))
  log toolchain "[${n}/${total}] ${name}: built in $(($(date +%s) - started)) s ($(du -h "${OUT}/${name}" | cut -f1))"
done
log toolchain "${built} built, $((total - built)) up to date, in ${OUT}"
