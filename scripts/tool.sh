#!/usr/bin/env bash
# Run a Go-built lint tool, building it first into the cache when missing:
#   scripts/tool.sh actionlint FILE...
# The tools are pinned in toolchain/lint-tools/go.mod (tool directives).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

name="${1:?usage: scripts/tool.sh TOOL [ARGS...]}"
shift
case "${name}" in
  actionlint) pkg="github.com/rhysd/actionlint/cmd/actionlint" ;;
  *) die "unknown tool '${name}' (known: actionlint)" ;;
esac
out="${ORCHESTRATOR_CACHE}/bin/${name}"
modfile="${ORCHESTRATOR_ROOT}/toolchain/lint-tools/go.mod"
stamp="${out}.stamp"
key="$(hash_inputs "${modfile}" "${modfile%.mod}.sum")"
if [[ ! -x "${out}" ]] || [[ "$(cat "${stamp}" 2>/dev/null)" != "${key}" ]]; then
  log tool "building ${name} from its Go module"
  (cd "$(dirname "${modfile}")" && \
    GOMODCACHE="${ORCHESTRATOR_CACHE}/go/mod" GOCACHE="${ORCHESTRATOR_CACHE}/go/build" \
    GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w" -o "${out}" "${pkg}")
  printf '%s' "${key}" > "${stamp}"
fi
exec "${out}" "$@"
