"""Drive the platform's entry points (orchestrator.sh, ansible-playbook, vagrant) from tests.

Every test cluster gets its own prefix, subnet and loopback address for the
published NodePorts, so tests never touch a user's nodes (``orch-*``) and can
run while a user's cluster is up.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
LABEL = "orchestrator.k3s.cluster"
NODE_IMAGE = "orchestrator-k3s/node:bookworm"


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI and capture its output."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=120)


def used_subnets() -> list[ipaddress.IPv4Network]:
    """Every IPv4 subnet a Docker network on this engine already uses."""
    names = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    inspected = json.loads(docker("network", "inspect", *names).stdout)
    subnets = []
    for network in inspected:
        for config in (network.get("IPAM") or {}).get("Config") or []:
            try:
                subnets.append(ipaddress.IPv4Network(config.get("Subnet", ""), strict=False))
            except ValueError:
                continue  # IPv6 or none
    return subnets


def free_subnet() -> str:
    """A /24 in 10.213.0.0/16 that no Docker network overlaps."""
    used = used_subnets()
    candidates = list(ipaddress.IPv4Network("10.213.0.0/16").subnets(new_prefix=24))
    random.shuffle(candidates)
    for candidate in candidates:
        if not any(candidate.overlaps(other) for other in used):
            return str(candidate)
    raise RuntimeError("no free /24 left in 10.213.0.0/16 for a test cluster")


@dataclass
class IsolatedPlatform:
    """One isolated cluster's settings, and the commands that act on it."""

    prefix: str = field(default_factory=lambda: f"e2e{random.randrange(10**6):06d}")
    subnet: str = field(default_factory=free_subnet)
    publish_ip: str = field(default_factory=lambda: f"127.0.{random.randrange(1, 255)}.{random.randrange(2, 255)}")
    workers: int = 2

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATOR_", "K3S_"))}
        env.update(
            ORCHESTRATOR_PREFIX=self.prefix,
            ORCHESTRATOR_WORKERS=str(self.workers),
            ORCHESTRATOR_SUBNET=self.subnet,
            ORCHESTRATOR_PUBLISH_IP=self.publish_ip,
            ORCHESTRATOR_PROVIDER="docker",
            # Tests check prerequisites; they never install Debian packages.
            ORCHESTRATOR_NO_APT="1",
            PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_NOCOLOR="1",
        )
        return env

    @property
    def node_names(self) -> list[str]:
        return [f"{self.prefix}-master"] + [f"{self.prefix}-worker{i}" for i in range(1, self.workers + 1)]

    def _run(
        self, argv: list[str], timeout: int, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=REPO, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip

    def _inventory_args(self) -> list[str]:
        """This cluster's inventory, with the settings orchestrator.sh passes."""
        return [
            "-i", "inventory/machines.sh",
            "-e", f"orchestrator_prefix={self.prefix}",
            "-e", f"orchestrator_subnet={self.subnet}",
            "-e", "orchestrator_provider=docker",
        ]

    def orchestrator(
        self, *args: str, timeout: int = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """./orchestrator.sh with this cluster's settings (plus env, e.g. ORCHESTRATOR_ENGINE)."""
        return self._run([str(REPO / "orchestrator.sh"), *args], timeout, env)

    def playbook(self, playbook: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
        """ansible-playbook on this cluster's inventory, as orchestrator.sh runs it."""
        return self._run([str(VENV_BIN / "ansible-playbook"), *self._inventory_args(), playbook, *args], timeout)

    def ansible(self, pattern: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        return self._run([str(VENV_BIN / "ansible"), *self._inventory_args(), pattern, *args], timeout)

    def objects(self) -> dict[str, list[str]]:
        """Names of this cluster's containers, volumes and networks (by label)."""
        label = f"label={LABEL}={self.prefix}"
        return {
            "containers": docker("ps", "-a", "--filter", label, "--format", "{{.Names}}").stdout.split(),
            "volumes": docker("volume", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
            "networks": docker("network", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
        }

    def remove_state_files(self) -> None:
        """This cluster's files under .orchestrator/ (lock, phase logs, kubeconfig)."""
        state = REPO / ".orchestrator"
        for path in [
            state / f"{self.prefix}.lock",
            state / f"{self.prefix}.engine",
            state / "kube" / f"{self.prefix}.yaml",
            *(state / "logs").glob(f"{self.prefix}-*.log"),
        ]:
            path.unlink(missing_ok=True)

    def remove_everything(self) -> None:
        """Safety net after the tests: remove what carries this cluster's label, and nothing else."""
        self.remove_state_files()
        found = self.objects()
        if found["containers"]:
            docker("rm", "-f", "-v", *found["containers"], check=False)
        if found["volumes"]:
            docker("volume", "rm", "-f", *found["volumes"], check=False)
        for network in found["networks"]:
            docker("network", "rm", network, check=False)


def recap_changed(output: str) -> dict[str, int]:
    """changed= per host from an ansible-playbook PLAY RECAP."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", output, re.MULTILINE)}
