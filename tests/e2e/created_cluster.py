"""The cluster `./orchestrator.sh create` built, as the platform tests use it:
kubectl with its kubeconfig, the stacks' URLs on the publish IP (where the
master publishes the NodePorts, as a user reaches them), its nodes' addresses,
and what of it is left on this machine after `destroy`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.e2e.harness import REPO, VENV_BIN, IsolatedPlatform, docker

STACKS_SETTINGS = yaml.safe_load((REPO / "inventory" / "group_vars" / "all" / "stacks.yml").read_text())
NODE_PORTS: dict[str, dict[str, int]] = STACKS_SETTINGS["stacks_node_ports"]
ENVIRONMENTS = ("dev", "prod")
# Every workload of both stacks, as its pods are named.
COMPONENTS = {
    "vote": ("vote", "result", "worker", "redis", "db"),
    "crud": ("api-gateway", "inventory-app", "inventory-db", "billing-app", "billing-db", "billing-queue"),
}
APP_IMAGES = ("vote", "result", "worker", "api-gateway", "inventory-app", "billing-app")


def eventually(check: Callable[[], Any], timeout: float, what: str, interval: float = 2.0) -> Any:
    """check()'s first truthy answer within timeout seconds, else an AssertionError with the last answer."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = check()
            if last:
                return last
        except (requests.RequestException, AssertionError, KeyError, ValueError, subprocess.SubprocessError) as error:
            last = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r})")
        time.sleep(interval)


@dataclass
class CreatedCluster:
    """One cluster made by `./orchestrator.sh create`, shared by the platform tests."""

    platform: IsolatedPlatform
    create_seconds: float
    create_stdout: str
    create_stderr: str
    # Figures the tests measure, printed at the end of the session.
    figures: dict[str, float | str] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return REPO / ".orchestrator" / "kube" / f"{self.platform.prefix}.yaml"

    def kubectl(
        self,
        *args: str,
        namespace: str | None = None,
        timeout: float = 120,
        check: bool = True,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(VENV_BIN / "kubectl"), f"--kubeconfig={self.kubeconfig}"]
        if namespace:
            argv += ["-n", namespace]
        result = subprocess.run(
            [*argv, *args], capture_output=True, text=True, timeout=timeout, check=False, input=stdin
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} (-n {namespace}): {result.stderr.strip()}")
        return result

    def get(self, *args: str, namespace: str | None = None) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json", namespace=namespace).stdout)

    def pods(self, namespace: str, component: str) -> list[dict[str, Any]]:
        return self.get("pods", "-l", f"app.kubernetes.io/name={component}", namespace=namespace)["items"]

    def url(self, environment: str, component: str) -> str:
        """Where a user reaches a public component: the NodePort the master publishes on the publish IP."""
        return f"http://{self.platform.publish_ip}:{NODE_PORTS[environment][component]}"

    def node_ips(self) -> dict[str, str]:
        """InternalIP of every node, by node name."""
        found = {}
        for node in self.get("nodes")["items"]:
            addresses = node["status"]["addresses"]
            found[node["metadata"]["name"]] = next(a["address"] for a in addresses if a["type"] == "InternalIP")
        return found

    def pod_ready(self, pod: dict[str, Any]) -> bool:
        return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])

    def wait_rollout(self, namespace: str, kind_name: str, timeout: int = 300) -> None:
        self.kubectl("rollout", "status", kind_name, f"--timeout={timeout}s", namespace=namespace, timeout=timeout + 20)

    def psql(self, namespace: str, pod: str, sql: str) -> str:
        """One SQL statement in a database pod, as the auditor types it: `sudo -i -u postgres psql`."""
        return self.kubectl(
            "exec", pod, "--", "sudo", "-i", "-u", "postgres", "psql", "-tAc", sql, namespace=namespace
        ).stdout  # fmt: skip

    def scores(self, environment: str) -> dict[str, int]:
        answer = requests.get(self.url(environment, "result") + "/api/scores", timeout=10)
        answer.raise_for_status()
        return answer.json()


def node_container_ids(platform: IsolatedPlatform) -> list[str]:
    names = platform.objects()["containers"]
    if not names:
        return []
    return docker("inspect", "--format", "{{.Id}}", *names).stdout.split()


def host_routes_of(subnet: str) -> list[str]:
    """Routes of this machine that lead into the cluster's subnet or through its nodes."""
    network_prefix = subnet.rsplit(".", 1)[0] + "."
    routes = subprocess.run(["ip", "route", "show"], capture_output=True, text=True, check=True).stdout
    return [line for line in routes.splitlines() if network_prefix in line]


def nat_rules_of(platform: IsolatedPlatform) -> list[str]:
    """Docker's NAT rules for the cluster's subnet or publish IP (NodePorts published by the master)."""
    found = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=False)
    network_prefix = platform.subnet.rsplit(".", 1)[0] + "."
    return [line for line in found.stdout.splitlines() if network_prefix in line or f"{platform.publish_ip}/" in line]


def processes_of(platform: IsolatedPlatform, container_ids: list[str]) -> list[str]:
    """Processes on this machine that belong to the cluster: in a node container's cgroup, or naming its prefix."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cgroups = (proc / "cgroup").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if any(cid in cgroups for cid in container_ids) or f"{platform.prefix}-" in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found
