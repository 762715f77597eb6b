"""Traffic on the created cluster: Traefik serves both stacks of both
environments by host name on port 80 of every node, and the NetworkPolicies
(enforced by kube-router) block the flows they do not allow."""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.created_cluster import ENVIRONMENTS, STACKS_SETTINGS, CreatedCluster

pytestmark = pytest.mark.slow

DOMAIN = STACKS_SETTINGS["stacks_ingress_domain"]
# Host name of each public component, as stacks.yml builds it: <name>.<environment>.<domain>.
HOST_NAMES = {"vote": "vote", "result": "result", "api-gateway": "api"}


def through_traefik(node_ip: str, host: str, path: str) -> requests.Response:
    return requests.get(f"http://{node_ip}{path}", headers={"Host": host}, timeout=15, allow_redirects=False)


def test_traefik_serves_both_stacks_of_both_environments_by_host_name_on_every_node(
    created_cluster: CreatedCluster,
) -> None:
    for environment in ENVIRONMENTS:
        ingresses = created_cluster.get("ingress", namespace=environment)["items"]
        hosts = sorted(rule["host"] for item in ingresses for rule in item["spec"]["rules"])
        assert hosts == sorted(f"{name}.{environment}.{DOMAIN}" for name in HOST_NAMES.values())
    for node, node_ip in created_cluster.node_ips().items():
        for environment in ENVIRONMENTS:
            vote = through_traefik(node_ip, f"vote.{environment}.{DOMAIN}", "/")
            assert vote.status_code == 200 and "Cats" in vote.text, (node, environment, vote.status_code)
            scores = through_traefik(node_ip, f"result.{environment}.{DOMAIN}", "/api/scores")
            assert scores.status_code == 200 and set(scores.json()) == {"a", "b"}, (node, environment)
            assert scores.json() == created_cluster.scores(environment), "Traefik and the NodePort disagree"
            movies = through_traefik(node_ip, f"api.{environment}.{DOMAIN}", "/api/movies/")
            assert movies.status_code == 200 and "movies" in movies.json(), (node, environment)
        # A host no Ingress names is not routed to any stack.
        assert through_traefik(node_ip, f"nobody.dev.{DOMAIN}", "/").status_code == 404


# Runs in an app pod: tries a TCP connection to each host:port given, prints what happened as JSON.
PROBE = """
import json, socket, sys
found = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=4).close()
        found[target] = "open"
    except OSError as error:
        found[target] = type(error).__name__
print(json.dumps(found))
"""


def reachable(cluster: CreatedCluster, namespace: str, component: str, *targets: str) -> dict[str, bool]:
    pod = cluster.pods(namespace, component)[0]["metadata"]["name"]
    out = cluster.kubectl("exec", pod, "--", "python3", "-c", PROBE, *targets, namespace=namespace, timeout=60).stdout
    return {target: state == "open" for target, state in json.loads(out).items()}


@pytest.mark.parametrize("namespace", ENVIRONMENTS)
def test_network_policies_let_each_component_reach_only_what_it_needs(
    created_cluster: CreatedCluster, namespace: str
) -> None:
    db_ip = created_cluster.pods(namespace, "db")[0]["status"]["podIP"]
    # vote talks to redis only: not to db, by name or by pod IP (no detour through the Service).
    assert reachable(created_cluster, namespace, "vote", "redis:6379", "db:5432", f"{db_ip}:5432") == {
        "redis:6379": True, "db:5432": False, f"{db_ip}:5432": False,
    }  # fmt: skip
    # worker may reach both.
    assert reachable(created_cluster, namespace, "worker", "redis:6379", "db:5432", f"{db_ip}:5432") == {
        "redis:6379": True, "db:5432": True, f"{db_ip}:5432": True,
    }  # fmt: skip
    # The gateway reaches inventory-app and RabbitMQ, but no database and not RabbitMQ's management port.
    assert reachable(
        created_cluster, namespace, "api-gateway",
        "inventory-app:8080", "billing-queue:5672", "inventory-db:5432", "billing-db:5432", "billing-queue:15672",
    ) == {
        "inventory-app:8080": True, "billing-queue:5672": True,
        "inventory-db:5432": False, "billing-db:5432": False, "billing-queue:15672": False,
    }  # fmt: skip
    # billing-app reaches its database and queue, but not the movies' database nor the vote stack's.
    assert reachable(created_cluster, namespace, "billing-app", "billing-db:5432", "inventory-db:5432", "db:5432") == {
        "billing-db:5432": True, "inventory-db:5432": False, "db:5432": False,
    }  # fmt: skip
