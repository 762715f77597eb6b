#!/usr/bin/env bash
# The Molecule scenarios that can pass on a machine without a k3s binary,
# the kubeadm engine's among them.
# The bundle scenarios (default, add-agent, reset, upgrade) need a real k3s
# air-gap folder: run them with K3S_AIRGAP_DIR=... molecule test -s NAME
# (molecule/README.md). They are not run here because no k3s can be
# obtained on the project's build machines (docs/toolchain.md).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "${ORCHESTRATOR_ROOT}"
export PATH="${ORCHESTRATOR_ROOT}/.venv/bin:${PATH}"

# kubeadm: a real cluster on node containers from the air-gap folder that
# toolchain/build-airgap.sh makes (make airgap).
for scenario in prereq kubeconfig reset-leftovers kubeadm; do
  log molecule "molecule test -s ${scenario}"
  molecule test -s "${scenario}"
done
