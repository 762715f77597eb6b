"""Data survives on the created cluster: votes, movies and orders after each
database pod is deleted, after billing-db-0 moves to another node (its node
cordoned: the `shared` StorageClass), and after `./orchestrator.sh stop` and
`start`. Then `destroy` leaves nothing of the cluster on this machine.

These run after every other test of the session (marked destructive), in
this order; the destroy test runs last of all.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.e2e.created_cluster import (
    ENVIRONMENTS,
    CreatedCluster,
    eventually,
    host_routes_of,
    nat_rules_of,
    node_container_ids,
    processes_of,
)
from tests.e2e.harness import docker

pytestmark = [pytest.mark.slow, pytest.mark.destructive]

DATABASES = ("db", "inventory-db", "billing-db")


def data_of(cluster: CreatedCluster) -> dict[str, Any]:
    """What a user keeps in both environments: scores, stored votes, movies and orders."""
    found: dict[str, Any] = {}
    for environment in ENVIRONMENTS:
        found[f"{environment} scores"] = cluster.scores(environment)
        found[f"{environment} votes"] = cluster.psql(
            environment, "db-0", "SELECT count(*), md5(string_agg(id || vote, ',' ORDER BY id)) FROM votes"
        )
        movies = requests.get(cluster.url(environment, "api-gateway") + "/api/movies/", timeout=15)
        movies.raise_for_status()
        found[f"{environment} movies"] = sorted((m["id"], m["title"]) for m in movies.json()["movies"])
        found[f"{environment} orders"] = cluster.psql(
            environment, "billing-db-0", "SELECT user_id, number_of_items, total_amount FROM orders ORDER BY id"
        )
    return found


def seed(cluster: CreatedCluster) -> None:
    """At least one vote, movie and order in each environment, so that survival means something."""
    for environment in ENVIRONMENTS:
        gateway = cluster.url(environment, "api-gateway")
        # Every dependency answers again (a test before may have scaled one to 0 and back).
        eventually(lambda gateway=gateway: requests.get(gateway + "/healthz", timeout=10).status_code == 200,
                   180, f"{environment}'s api-gateway healthy")  # fmt: skip
        assert (
            requests.post(
                gateway + "/api/movies/",
                json={"title": f"kept in {environment}", "description": "survives"},
                timeout=15,
            ).status_code
            == 200
        )
        order = {"user_id": 4242, "number_of_items": 3, "total_amount": 9.5}
        assert requests.post(gateway + "/api/billing/", json=order, timeout=15).status_code == 200
        voter = requests.Session()
        assert voter.post(cluster.url(environment, "vote") + "/", data={"vote": "a"}, allow_redirects=False,
                          timeout=15).status_code == 303  # fmt: skip
        eventually(lambda environment=environment: "4242" in cluster.psql(environment, "billing-db-0",
                   "SELECT user_id FROM orders"), 60, "the seeded order billed")  # fmt: skip
    time.sleep(5)  # the worker moves the seeded votes


def all_ready(cluster: CreatedCluster) -> bool:
    for environment in ENVIRONMENTS:
        pods = cluster.get("pods", namespace=environment)["items"]
        if not pods or not all(cluster.pod_ready(pod) for pod in pods):
            return False
    return True


def same_data(cluster: CreatedCluster, before: dict[str, Any]) -> bool:
    now = data_of(cluster)
    assert now == before  # raised while it differs; eventually() reports the last difference
    return True


@pytest.fixture(scope="module")
def kept(created_cluster: CreatedCluster) -> dict[str, Any]:
    seed(created_cluster)
    return data_of(created_cluster)


@pytest.mark.parametrize("database", DATABASES)
def test_data_survives_deleting_each_database_pod(
    created_cluster: CreatedCluster, kept: dict[str, Any], database: str
) -> None:
    for environment in ENVIRONMENTS:
        uid = created_cluster.get("pod", f"{database}-0", namespace=environment)["metadata"]["uid"]
        created_cluster.kubectl("delete", "pod", f"{database}-0", "--wait=true", namespace=environment, timeout=180)

        def replaced_and_ready(environment: str = environment, uid: str = uid) -> bool:
            pod = created_cluster.get("pod", f"{database}-0", namespace=environment)
            return pod["metadata"]["uid"] != uid and created_cluster.pod_ready(pod)

        eventually(replaced_and_ready, 240, f"{environment}/{database}-0 back and Ready")
    eventually(lambda: same_data(created_cluster, kept), 180, f"the data after deleting {database}-0")


def test_billing_db_moves_to_another_node_with_every_order(
    created_cluster: CreatedCluster, kept: dict[str, Any]
) -> None:
    namespace = "dev"
    pod = created_cluster.get("pod", "billing-db-0", namespace=namespace)
    node = pod["spec"]["nodeName"]
    claim = created_cluster.get("pvc", "data-billing-db-0", namespace=namespace)
    assert claim["spec"]["storageClassName"] == "shared"
    created_cluster.kubectl("cordon", node)
    try:
        start = time.monotonic()
        created_cluster.kubectl("delete", "pod", "billing-db-0", "--wait=true", namespace=namespace, timeout=180)

        def moved_and_ready() -> str:
            moved = created_cluster.get("pod", "billing-db-0", namespace=namespace)
            ready = created_cluster.pod_ready(moved) and moved["spec"].get("nodeName") != node
            return moved["spec"]["nodeName"] if ready else ""

        new_node = eventually(moved_and_ready, 300, f"billing-db-0 Ready on a node other than {node}")
        created_cluster.figures["billing_db_node_move"] = f"{node} -> {new_node} in {time.monotonic() - start:.0f}s"
        eventually(lambda: same_data(created_cluster, kept), 180, "every order after the move")
    finally:
        created_cluster.kubectl("uncordon", node)


def test_stop_then_start_keeps_everything(created_cluster: CreatedCluster, kept: dict[str, Any]) -> None:
    platform = created_cluster.platform
    stopped = platform.orchestrator("stop", timeout=600)
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert stopped.stdout.strip().endswith("cluster stopped")
    for name in platform.node_names:
        assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "false", name

    start = time.monotonic()
    started = platform.orchestrator("start", timeout=900)
    assert started.returncode == 0, started.stderr[-3000:]
    assert started.stdout.strip().endswith("cluster started")
    eventually(lambda: all_ready(created_cluster), 600, "every pod of both stacks Ready again", 5)
    eventually(lambda: same_data(created_cluster, kept), 300, "the data after stop and start", 5)
    created_cluster.figures["start_until_data_back_seconds"] = round(time.monotonic() - start, 1)


@pytest.mark.destroys_cluster
def test_destroy_leaves_no_container_volume_network_route_or_process(created_cluster: CreatedCluster) -> None:
    platform = created_cluster.platform
    # Every container of the cluster: the three nodes and the local registry beside them.
    assert set(platform.node_names) | {f"{platform.prefix}-registry"} == set(platform.objects()["containers"])
    container_ids = node_container_ids(platform)
    assert host_routes_of(platform.subnet), "the cluster's network has no route on this machine: the check is blind"
    destroyed = platform.orchestrator("destroy", timeout=600)
    assert destroyed.returncode == 0, destroyed.stderr[-3000:]
    assert destroyed.stdout.strip().endswith("cluster destroyed")
    assert platform.objects() == {"containers": [], "volumes": [], "networks": []}
    assert docker("ps", "-a", "--filter", f"name={platform.prefix}-", "--format", "{{.Names}}").stdout == ""
    assert docker("volume", "ls", "--filter", f"name={platform.prefix}-", "--format", "{{.Name}}").stdout == ""
    assert host_routes_of(platform.subnet) == []
    assert nat_rules_of(platform) == []
    assert processes_of(platform, container_ids) == []
    assert not created_cluster.kubeconfig.exists()
