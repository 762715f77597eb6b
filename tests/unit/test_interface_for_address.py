"""interface_for_address: the interface holding the node's private IP, as flannel-iface."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.orchestrator.k3s.plugins.filter.interface_for_address import (
    FilterModule,
    interface_for_address,
)


def facts(**interfaces: dict) -> dict:
    """Facts as the setup module gathers them: names in 'interfaces', '-' spelled '_' in keys."""
    gathered = {"interfaces": [i["device"] for i in interfaces.values()], "default_ipv4": {"interface": "eth0"}}
    gathered.update(interfaces)
    return gathered


VIRTUALBOX_DEBIAN = facts(
    lo={"device": "lo", "ipv4": {"address": "127.0.0.1"}},
    # The NAT interface: the default route, the same address on every VM.
    eth0={"device": "eth0", "ipv4": {"address": "10.0.2.15"}, "ipv6": [{"address": "fe80::a00:27ff:fe8d:c04d"}]},
    eth1={"device": "eth1", "ipv4": {"address": "192.168.56.11"}},
)
VIRTUALBOX_UBUNTU = facts(
    lo={"device": "lo", "ipv4": {"address": "127.0.0.1"}},
    enp0s3={"device": "enp0s3", "ipv4": {"address": "10.0.2.15"}},
    enp0s8={"device": "enp0s8", "ipv4": {"address": "192.168.56.10"}},
)
SECONDARIES_AND_V6 = facts(
    br_lan={
        "device": "br-lan",
        "ipv4": {"address": "10.1.0.2"},
        "ipv4_secondaries": [{"address": "10.1.0.9"}],
        "ipv6": [{"address": "fd00::12", "prefix": "64"}, {"address": "fe80::1%br-lan"}],
    },
    eth0={"device": "eth0", "ipv4": {"address": "10.0.2.15"}},
)


@pytest.mark.parametrize(
    ("gathered", "address", "expected"),
    [
        (VIRTUALBOX_DEBIAN, "192.168.56.11", "eth1"),
        (VIRTUALBOX_UBUNTU, "192.168.56.10", "enp0s8"),
        (VIRTUALBOX_DEBIAN, "10.0.2.15", "eth0"),
        # The real name comes back, not the fact key.
        (SECONDARIES_AND_V6, "10.1.0.9", "br-lan"),
        (SECONDARIES_AND_V6, "fd00:0::12", "br-lan"),
        (SECONDARIES_AND_V6, " 10.1.0.2 ", "br-lan"),
        # No interface holds it: the caller fails with the host's name.
        (VIRTUALBOX_DEBIAN, "192.168.56.99", ""),
    ],
)
def test_finds_the_interface_holding_the_address(gathered: dict, address: str, expected: str) -> None:
    assert interface_for_address(gathered, address) == expected


def test_interface_without_addresses_is_skipped() -> None:
    gathered = facts(dummy0={"device": "dummy0"}, eth1={"device": "eth1", "ipv4": {"address": "192.168.56.12"}})
    assert interface_for_address(gathered, "192.168.56.12") == "eth1"


@pytest.mark.parametrize(
    ("gathered", "address", "message"),
    [
        ({"ansible_hostname": "x"}, "192.168.56.10", "gathered facts"),
        ("eth1", "192.168.56.10", "gathered facts"),
        (VIRTUALBOX_DEBIAN, "eth1", "not an IP address"),
    ],
)
def test_bad_input_says_what_is_wrong(gathered: object, address: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        interface_for_address(gathered, address)  # type: ignore[arg-type]


def test_registered_under_its_name() -> None:
    assert FilterModule().filters() == {"interface_for_address": interface_for_address}
