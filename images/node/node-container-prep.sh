#!/usr/bin/env bash
# What a node container needs before containerd and the kubelet start, done
# at every boot inside the container's own mount namespace. It belongs to the
# Docker provider, not to a cluster engine: on a VM none of this applies, and
# the engine roles stay the same for both.
#
#   - the host kernel stays untouched: the kubelet writes a few global
#     (non-namespaced) sysctls at start; a file holding the value it wants is
#     bind-mounted over each of them, so it reads that value and writes nothing;
#   - cgroup v1: systemd here mounts hierarchies the host leaves unmounted
#     (hugetlb, net_cls,net_prio, perf_event) where Docker made no cgroup for
#     this container, and the kubelet refuses a cgroup root missing from a
#     mounted hierarchy: they are unmounted again;
#   - the kubelet's cgroup root is a child of this container's own cgroup, so
#     pods are accounted to (and removed with) the node container;
#   - DNS: Docker's 127.0.0.11 cannot be reached from pods, and handed to
#     CoreDNS it makes CoreDNS's loop check kill it: the kubelet gets the
#     host's own resolvers instead (none where the host has only a local
#     stub: names outside the cluster then do not resolve in pods).
# The kubelet reads the last two through /etc/default/kubelet, the file kubeadm's
# and k3s-style units leave to the machine.
set -euo pipefail

state=/run/node-container
mkdir -p "${state}"

mount --make-rshared /

# Values the kubelet sets (pkg/kubelet/cm: setupKernelTunables).
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
          kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  key="${kv%=*}"
  shield="${state}/sysctl-${key//\//_}"
  printf '%s\n' "${kv#*=}" > "${shield}"
  mountpoint -q "/proc/sys/${key}" || mount --bind "${shield}" "/proc/sys/${key}"
done

for hierarchy in hugetlb net_cls,net_prio perf_event; do
  if mountpoint -q "/sys/fs/cgroup/${hierarchy}"; then
    umount "/sys/fs/cgroup/${hierarchy}"
  fi
done

own_cgroup="$(grep -o '/docker/[0-9a-f]\{64\}' /proc/1/cgroup | head -n 1 || true)"
kubelet_args=()
if [[ -n "${own_cgroup}" ]]; then
  cgroup_root="${own_cgroup}/kubelet"
  for controller in /sys/fs/cgroup/*/; do
    controller="${controller%/}"
    [[ "${controller##*/}" == unified ]] && continue
    [[ -d "${controller}${own_cgroup}" ]] || continue
    mkdir -p "${controller}${cgroup_root}"
  done
  if [[ -d "/sys/fs/cgroup/cpuset${cgroup_root}" ]]; then
    cat "/sys/fs/cgroup/cpuset${own_cgroup}/cpuset.cpus" > "/sys/fs/cgroup/cpuset${cgroup_root}/cpuset.cpus"
    cat "/sys/fs/cgroup/cpuset${own_cgroup}/cpuset.mems" > "/sys/fs/cgroup/cpuset${cgroup_root}/cpuset.mems"
  fi
  kubelet_args+=("--cgroup-root=${cgroup_root}")
fi

# The Docker provider mounts the host's resolver list here; its loopback
# entries (a local stub resolver) mean nothing inside a pod.
host_resolv=/etc/node-container/host-resolv.conf
{
  echo "# Written by node-container-prep from the host's resolvers."
  if [[ -r "${host_resolv}" ]]; then
    awk '$1 == "nameserver" && $2 !~ /^127\./ && $2 != "::1" { print "nameserver " $2 }' "${host_resolv}"
  fi
} > "${state}/resolv.conf"
# CoreDNS refuses a resolv.conf without a server. The gateway (this host)
# answers at once, with a refusal when it runs no DNS: never a loop.
if ! grep -q '^nameserver' "${state}/resolv.conf"; then
  echo "nameserver $(ip -4 route show default | awk '{ print $3; exit }')" >> "${state}/resolv.conf"
fi
kubelet_args+=("--resolv-conf=${state}/resolv.conf")

printf 'KUBELET_EXTRA_ARGS=%s\n' "${kubelet_args[*]}" > /etc/default/kubelet
echo "node-container-prep: cgroup root ${cgroup_root:-unchanged}, resolvers: $(grep -c '^nameserver' "${state}/resolv.conf")"
