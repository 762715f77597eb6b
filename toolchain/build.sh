#!/usr/bin/env bash
# Build the local test control plane from Go modules into $ORCHESTRATOR_CACHE/bin.
#
# What and why: k3s itself is not served by the Go module proxy reachable
# here (see docs/toolchain.md), so the test bed is upstream Kubernetes 1.34
# (kube-apiserver, kube-controller-manager, kube-scheduler) on kine/sqlite,
# with kwok simulating the nodes. Each program is an ordinary dependency of
# a small go.mod under toolchain/; no third-party source is in this repo.
#
# The build is a no-op when the go.mod/go.sum files, this script and the Go
# version are unchanged (a stamp in the output folder holds their hash).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"

K8S_VERSION="v1.34.2"
TOOLCHAIN="${ORCHESTRATOR_ROOT}/toolchain"
OUT="${ORCHESTRATOR_CACHE}/bin"
STAMP="${OUT}/.toolchain-stamp"
PROGRAMS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kube-proxy kubectl kine kwok)

export GOMODCACHE="${ORCHESTRATOR_CACHE}/go/mod"
export GOCACHE="${ORCHESTRATOR_CACHE}/go/build"
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOTOOLCHAIN=local

command -v go >/dev/null || die "go is not installed (Debian: golang-go >= 1.24, or the Go toolchain on PATH)"
apt_install gcc libsqlite3-dev pkg-config openssl

mkdir -p "${OUT}" "${GOMODCACHE}" "${GOCACHE}"
key="$(hash_inputs "${TOOLCHAIN}/build.sh" "${TOOLCHAIN}"/*/go.mod "${TOOLCHAIN}"/*/go.sum; go version)"
key="$(printf '%s' "${key}" | sha256sum | cut -d' ' -f1)"
all_present=true
for p in "${PROGRAMS[@]}"; do
  [[ -x "${OUT}/${p}" ]] || all_present=false
done
if ${all_present} && [[ -f "${STAMP}" ]] && [[ "$(cat "${STAMP}")" == "${key}" ]]; then
  log toolchain "up to date in ${OUT}"
  exit 0
fi

version_ldflags="-s -w"
for kv in "gitVersion=${K8S_VERSION}" "gitMajor=1" "gitMinor=34" "gitTreeState=clean"; do
  version_ldflags+=" -X k8s.io/component-base/version.${kv}"
done

log toolchain "building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubeadm, kube-proxy, kubectl ${K8S_VERSION}"
(cd "${TOOLCHAIN}/kubernetes" && CGO_ENABLED=0 go build -trimpath -ldflags "${version_ldflags}" -o "${OUT}/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm \
  k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
log toolchain "building kine (sqlite, cgo)"
(cd "${TOOLCHAIN}/kine" && CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "${OUT}/kine" github.com/k3s-io/kine)
log toolchain "building kwok"
(cd "${TOOLCHAIN}/kwok" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${OUT}/kwok" sigs.k8s.io/kwok/cmd/kwok)

"${OUT}/kube-apiserver" --version
printf '%s' "${key}" > "${STAMP}"
log toolchain "done: ${PROGRAMS[*]} in ${OUT}"
