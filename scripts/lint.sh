#!/usr/bin/env bash
# Static gates, each from a PyPI wheel or a Go module build: ruff, ansible-lint
# (production profile), shellcheck, hadolint, actionlint, detect-secrets and
# checkov (rendered manifests and Dockerfiles). Fails on the first red gate.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "${ORCHESTRATOR_ROOT}"
bin="${ORCHESTRATOR_ROOT}/.venv/bin"

# Files git tracks or would track (untracked but not ignored), so that a
# developer's uncommitted work is linted too.
tracked() { git ls-files --cached --others --exclude-standard -- "$@"; }

log lint "ruff"
"${bin}/ruff" check .

log lint "shellcheck"
mapfile -t shell_files < <(tracked '*.sh' 'orchestrator.sh' 'bench/*' '.ci/run' | while read -r f; do
  [[ -f "$f" ]] && head -n1 "$f" | grep -qE '^#!.*(bash|sh)' && echo "$f"; done)
"${bin}/shellcheck" -x "${shell_files[@]}"

log lint "hadolint"
mapfile -t dockerfiles < <(tracked '**/Dockerfile' 'Dockerfile')
[[ ${#dockerfiles[@]} -eq 0 ]] || "${bin}/hadolint" "${dockerfiles[@]}"

log lint "ansible-lint (production profile)"
"${bin}/ansible-lint" --profile production

if compgen -G ".github/workflows/*.yml" >/dev/null; then
  log lint "actionlint"
  "${ORCHESTRATOR_ROOT}/scripts/tool.sh" actionlint .github/workflows/*.yml
fi

log lint "detect-secrets"
mapfile -t all_files < <(tracked)
"${bin}/detect-secrets-hook" --baseline .secrets.baseline "${all_files[@]}"

log lint "checkov (rendered manifests, Dockerfiles)"
"${ORCHESTRATOR_ROOT}/scripts/checkov.sh"
log lint "all gates green"
