#!/usr/bin/env bash
# Stop what k3s leaves behind once its service has stopped (the unit uses
# KillMode=process): containerd, its shims and the pods' processes, their
# mounts and network namespaces, the CNI and flannel interfaces and the
# KUBE-/CNI-/flannel iptables rules. The ground k3s's own k3s-killall.sh
# covers, for k3s_reset: one line is printed per thing removed and nothing
# when there was nothing to remove, so Ansible reports "changed" truthfully.
#
# Environment: K3S_DATA_DIR, k3s's data directory (default /var/lib/rancher/k3s).
set -euo pipefail

data_dir="${K3S_DATA_DIR:-/var/lib/rancher/k3s}"

# SIGKILL a process after its descendants: a pod's processes are children of
# its shim and would otherwise be re-parented and survive.
kill_tree() {
  local pid="$1" child
  for child in $(pgrep -P "${pid}" || true); do
    kill_tree "${child}"
  done
  if kill -KILL "${pid}" 2>/dev/null; then
    echo "killed process ${pid}"
  fi
}

# containerd, the shims and k3s's bundled tools all run from, or are
# configured under, the data directory. (The data directory reaches this
# script through the environment, so its own command line does not match.)
for pid in $(pgrep -f -- "${data_dir}/" || true); do
  kill_tree "${pid}"
done

# The pods' network namespaces (ip unmounts and removes /run/netns/cni-*).
for netns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print $1}'); do
  ip netns delete "${netns}"
  echo "deleted network namespace ${netns}"
done

# Everything mounted below k3s's directories, deepest first. The directories
# themselves stay: on a node container they are Docker volumes. Mounts can be
# stacked on one path, hence a few passes.
mount_roots=(/run/k3s/ /var/lib/kubelet/ "${data_dir}/")
mounts_below_roots() {
  local target root
  while read -r _ target _; do
    target="$(printf '%b' "${target}")"  # /proc/self/mounts escapes spaces as \040
    for root in "${mount_roots[@]}"; do
      if [[ "${target}" == "${root}"* ]]; then
        printf '%s\n' "${target}"
      fi
    done
  done < /proc/self/mounts | sort -r -u
}
for _pass in 1 2 3; do
  mapfile -t mounts < <(mounts_below_roots)
  [[ ${#mounts[@]} -gt 0 ]] || break
  for target in "${mounts[@]}"; do
    umount -f "${target}" 2>/dev/null || umount -l "${target}"
    echo "unmounted ${target}"
  done
done

# The pods' veth pairs on the CNI bridge, then the bridge and flannel's devices.
for link in $(ip -o link show master cni0 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
  ip link delete "${link}"
  echo "deleted interface ${link}"
done
for link in cni0 flannel.1 flannel-v6.1 flannel-wg flannel-wg-v6 kube-ipvs0; do
  if ip link show "${link}" >/dev/null 2>&1; then
    ip link delete "${link}"
    echo "deleted interface ${link}"
  fi
done

# kube-proxy's, the CNI plugins' and flannel's rules, in every iptables
# backend present: k3s may have used a different one than the host's default.
for family in iptables ip6tables; do
  for backend in "" -legacy -nft; do
    command -v "${family}${backend}-save" >/dev/null || continue
    rules="$("${family}${backend}-save" 2>/dev/null)" || continue
    if grep -q -e KUBE- -e CNI- <<<"${rules}" || grep -qi flannel <<<"${rules}"; then
      grep -v -e KUBE- -e CNI- <<<"${rules}" | grep -vi flannel | "${family}${backend}-restore"
      echo "removed the k3s rules from ${family}${backend}"
    fi
  done
done
