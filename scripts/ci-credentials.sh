#!/usr/bin/env bash
# Write the cluster credentials a pipeline job gets as secrets into the files
# ./orchestrator.sh reads, mode 0600, never echoing them:
#
#   ORCHESTRATOR_KUBECONFIG      -> .orchestrator/kube/<prefix>.yaml
#   ORCHESTRATOR_STACKS_SECRETS  -> .orchestrator/secrets.yml (the stacks'
#                                   generated passwords: a deploy must reuse them)
#   ORCHESTRATOR_VAULT_PASSWORD  -> .orchestrator/vault-password, exported to
#                                   later steps as ANSIBLE_VAULT_PASSWORD_FILE
#
# An empty or unset variable leaves its file alone (a runner on the machine
# that created the cluster already has them). A file whose content is
# unchanged is not rewritten.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

state="${ORCHESTRATOR_ROOT}/.orchestrator"
prefix="${ORCHESTRATOR_PREFIX:-orch}"
[[ "${prefix}" =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "ORCHESTRATOR_PREFIX must be a lowercase name (got '${prefix}')"

# put VAR FILE: the content of VAR into FILE (0600), when VAR is set.
put() {
  local var="$1" file="$2" tmp
  [[ -n "${!var:-}" ]] || return 0
  mkdir -p "$(dirname "${file}")"
  tmp="$(mktemp "${file}.XXXXXX")"
  chmod 0600 "${tmp}"
  printf '%s\n' "${!var}" > "${tmp}"
  if cmp -s "${tmp}" "${file}"; then
    rm -f "${tmp}"
  else
    mv -f "${tmp}" "${file}"
  fi
  log credentials "${var} -> ${file#"${ORCHESTRATOR_ROOT}/"}"
}

umask 077
put ORCHESTRATOR_KUBECONFIG "${state}/kube/${prefix}.yaml"
put ORCHESTRATOR_STACKS_SECRETS "${state}/secrets.yml"
put ORCHESTRATOR_VAULT_PASSWORD "${state}/vault-password"
if [[ -n "${ORCHESTRATOR_VAULT_PASSWORD:-}" && -n "${GITHUB_ENV:-}" ]]; then
  echo "ANSIBLE_VAULT_PASSWORD_FILE=${state}/vault-password" >> "${GITHUB_ENV}"
fi
