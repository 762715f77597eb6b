# Copyright: orchestrator.k3s maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network interface that holds an address, read from gathered facts."""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import ip_address
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: interface_for_address
short_description: The network interface that holds an IP address, from gathered facts
version_added: 0.1.0
description:
  - Looks through the interfaces in a host's gathered facts (C(ansible_facts)) for the one
    whose IPv4 address, IPv4 secondary addresses or IPv6 addresses include O(address).
  - Used to pin k3s's flannel to the interface of the node's private network, since flannel
    otherwise takes the interface of the default route, which on VirtualBox VMs is the NAT
    interface with the same address (10.0.2.15) on every machine.
  - Returns an empty string when no interface holds the address, so the caller can fail
    with a message naming the host.
positional: address
options:
  _input:
    description: A host's gathered facts (C(ansible_facts)), with the network facts.
    type: dict
    required: true
  address:
    description: The IPv4 or IPv6 address to look for.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Pin flannel to the interface of the node's private address.
  ansible.builtin.set_fact:
    node_iface: "{{ ansible_facts | orchestrator.k3s.interface_for_address('192.168.56.11') }}"
  # eth1 on a Debian VirtualBox box, enp0s8 on an Ubuntu one.
"""

RETURN = r"""
_value:
  description: The interface's name as the kernel knows it (C(eth1), C(enp0s8), C(br-lan)), or an empty string.
  type: str
"""


def _addresses(interface: Mapping[str, Any]) -> list[str]:
    found = []
    ipv4 = interface.get("ipv4")
    if isinstance(ipv4, Mapping) and ipv4.get("address"):
        found.append(ipv4["address"])
    for key in ("ipv4_secondaries", "ipv6"):
        found.extend(entry["address"] for entry in interface.get(key) or [] if entry.get("address"))
    return found


def interface_for_address(facts: Mapping[str, Any], address: str) -> str:
    """Name of the interface in `facts` holding `address`; '' when none does."""
    if not isinstance(facts, Mapping) or "interfaces" not in facts:
        raise AnsibleFilterError(
            "interface_for_address needs a host's gathered facts (ansible_facts with network facts)"
        )
    try:
        wanted = ip_address(str(address).strip())
    except ValueError as error:
        raise AnsibleFilterError(f"interface_for_address: {address!r} is not an IP address") from error
    for name in facts["interfaces"]:
        # Fact keys spell '-' as '_' (br-lan is facts['br_lan']); 'device' keeps the real name.
        interface = facts.get(name) or facts.get(name.replace("-", "_")) or {}
        for candidate in _addresses(interface):
            try:
                if ip_address(candidate.split("%")[0]) == wanted:
                    return interface.get("device", name)
            except ValueError:
                continue
    return ""


class FilterModule:
    """interface_for_address."""

    def filters(self) -> dict[str, Any]:
        return {"interface_for_address": interface_for_address}
