#!/usr/bin/env bash
# What a Kubernetes node's pod network leaves once kubeadm reset has run: the
# bridge and vxlan interfaces, the KUBE-/CNI-/FLANNEL/KUBE-ROUTER iptables
# chains and rules, kube-router's ipsets. One line is printed per thing
# removed and nothing when there was nothing to remove, so Ansible reports
# "changed" truthfully. Rules of anything else (Docker, a firewall) are kept.
set -euo pipefail

for link in cni0 flannel.1 kube-bridge; do
  if ip link show "${link}" >/dev/null 2>&1; then
    ip link delete "${link}"
    echo "deleted interface ${link}"
  fi
done

ours='(KUBE-|CNI-|FLANNEL|KUBE-ROUTER)'
for family in iptables ip6tables; do
  command -v "${family}-save" >/dev/null || continue
  saved="$("${family}-save")"
  grep -Eq -- "${ours}" <<<"${saved}" || continue
  # Drop our chains' declarations and every rule that names one of them.
  grep -Ev -- "${ours}" <<<"${saved}" | "${family}-restore"
  echo "removed Kubernetes ${family} rules"
done

if command -v ipset >/dev/null; then
  for set in $(ipset list --name 2>/dev/null | grep -E '^(KUBE-|kube-router-)' || true); do
    # A set still referenced by a rule left by someone else stays.
    if ipset destroy "${set}" 2>/dev/null; then
      echo "destroyed ipset ${set}"
    fi
  done
fi
