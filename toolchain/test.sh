#!/usr/bin/env bash
# Unit tests of the Go programs that are ours (not upstream's): today the
# flannel CNI plugin (toolchain/flannel-cni). Same module and build caches
# as toolchain/build.sh; a few seconds when the cache is warm.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"

export GOMODCACHE="${ORCHESTRATOR_CACHE}/go/mod"
export GOCACHE="${ORCHESTRATOR_CACHE}/go/build"
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOTOOLCHAIN=local

command -v go >/dev/null || die "go is not installed (Debian: golang-go >= 1.24, or the Go toolchain on PATH)"
# Our Go modules with tests (a list, so the next one is one word away).
modules=(flannel-cni)
for module in "${modules[@]}"; do
  if ! out="$(cd "${ORCHESTRATOR_ROOT}/toolchain/${module}" && go vet ./... 2>&1 \
    && nice -n 10 go test -count=1 -v ./... 2>&1)"; then
    printf '%s\n' "${out}" >&2
    die "go vet/test failed in toolchain/${module}"
  fi
  log go-test "toolchain/${module}: $(grep -c -- '--- PASS' <<<"${out}") tests and subtests passed"
done
