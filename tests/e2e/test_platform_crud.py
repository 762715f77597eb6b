"""The crud stack on the created cluster: the original project's five-step
acceptance walk-through exactly as apps-spec.md writes it, through the gateway's
NodePort and `kubectl exec billing-db-0 -- sudo -i -u postgres`; and the HPAs
really scaling api-gateway and inventory-app under CPU load, and back."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.created_cluster import STACKS_SETTINGS, CreatedCluster, eventually

pytestmark = pytest.mark.slow

AUDIT_SESSION = "psql\n\\l\nTABLE orders;\n"
AUTOSCALED = ("api-gateway", "inventory-app")


def order_of(user_id: str) -> dict[str, str]:
    """An order as the audit sends it: numbers as strings."""
    return {"user_id": user_id, "number_of_items": "99", "total_amount": "250"}


def orders_table(cluster: CreatedCluster, namespace: str) -> tuple[str, list[list[str]]]:
    """What the auditor sees in billing-db-0: `sudo -i -u postgres`, then `psql`, `\\l`, `TABLE orders;`."""
    session = cluster.kubectl(
        "exec", "-i", "billing-db-0", "--", "sudo", "-i", "-u", "postgres", namespace=namespace, stdin=AUDIT_SESSION
    ).stdout  # fmt: skip
    rows = [[cell.strip() for cell in line.split("|")] for line in session.splitlines() if line.count("|") == 3]
    return session, [row for row in rows if row[0].isdigit()]


def users_in_orders(cluster: CreatedCluster, namespace: str) -> list[str]:
    return [row[1] for row in orders_table(cluster, namespace)[1]]


def test_the_crud_acceptance_walk_through(created_cluster: CreatedCluster) -> None:
    namespace = "dev"
    gateway = created_cluster.url(namespace, "api-gateway")

    # 1. A movie in, the movies out.
    movie = {"title": "A new movie", "description": "Added by the acceptance walk-through"}
    added = requests.post(gateway + "/api/movies/", json=movie, timeout=15)
    assert added.status_code == 200, added.text
    listed = requests.get(gateway + "/api/movies/", timeout=15)
    assert listed.status_code == 200
    assert movie["title"] in [m["title"] for m in listed.json()["movies"]]

    # 2. An order of user 20 is taken, and billed.
    assert requests.post(gateway + "/api/billing/", json=order_of("20"), timeout=15).status_code == 200
    eventually(lambda: "20" in users_in_orders(created_cluster, namespace), 60, "user 20's order in billing-db")

    # 3. billing-app stopped: an order of user 22 is still taken.
    replicas = created_cluster.get("statefulset", "billing-app", namespace=namespace)["spec"]["replicas"]
    created_cluster.kubectl("scale", "statefulset/billing-app", "--replicas=0", namespace=namespace)
    try:
        eventually(lambda: not created_cluster.pods(namespace, "billing-app"), 120, "billing-app stopped")
        assert requests.post(gateway + "/api/billing/", json=order_of("22"), timeout=15).status_code == 200

        # 4. The auditor's session in billing-db-0: database `orders`; user 20's order, not 22's.
        time.sleep(5)  # what billing-app would need to bill it, were it running
        session, rows = orders_table(created_cluster, namespace)
        databases = [line.split("|")[0].strip() for line in session.splitlines() if "|" in line]
        assert "orders" in databases, session
        users = [row[1] for row in rows]
        assert "20" in users and "22" not in users, session
    finally:
        # 5. billing-app back: user 22's order is billed, once.
        created_cluster.kubectl("scale", "statefulset/billing-app", f"--replicas={replicas}", namespace=namespace)
        created_cluster.wait_rollout(namespace, "statefulset/billing-app")
    eventually(lambda: "22" in users_in_orders(created_cluster, namespace), 120, "user 22's order billed")
    time.sleep(5)
    users = users_in_orders(created_cluster, namespace)
    assert users.count("22") == 1 and users.count("20") == 1, users


def hpa_state(cluster: CreatedCluster, namespace: str, name: str) -> tuple[int, int]:
    """Replicas the HPA wants, and the Deployment's Ready pods."""
    hpa = cluster.get("hpa", name, namespace=namespace)
    deployment = cluster.get("deployment", name, namespace=namespace)
    return hpa["status"].get("desiredReplicas", 0), deployment["status"].get("readyReplicas", 0)


def test_the_hpas_scale_api_gateway_and_inventory_app_under_load_and_back(created_cluster: CreatedCluster) -> None:
    namespace = "prod"
    settings = STACKS_SETTINGS["stacks_autoscaling"]
    for name in AUTOSCALED:
        spec = created_cluster.get("hpa", name, namespace=namespace)["spec"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (settings["min_replicas"], settings["max_replicas"])
        assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == settings["cpu_utilization"]
        # metrics-server feeds the HPA before any load: it reads a CPU figure.
        eventually(
            lambda name=name: created_cluster.get("hpa", name, namespace=namespace)["status"].get("currentMetrics"),
            180,
            f"{name}'s HPA reading CPU from metrics-server",
        )
        eventually(lambda name=name: hpa_state(created_cluster, namespace, name) == (1, 1), 300, f"{name} at 1 pod")

    # CPU load through the gateway's NodePort: every search goes through inventory-app to inventory-db.
    gateway = created_cluster.url(namespace, "api-gateway")
    stop = threading.Event()

    def load() -> int:
        session, done = requests.Session(), 0
        while not stop.is_set():
            try:
                session.get(gateway + "/api/movies/", params={"title": "e"}, timeout=10)
                done += 1
            except requests.RequestException:
                time.sleep(0.2)
        return done

    start = time.monotonic()
    scaled_up: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=6) as pool:
        loads = [pool.submit(load) for _client in range(6)]
        try:

            def both_scaled() -> bool:
                for name in AUTOSCALED:
                    if name not in scaled_up and hpa_state(created_cluster, namespace, name)[1] > 1:
                        scaled_up[name] = time.monotonic() - start
                return len(scaled_up) == len(AUTOSCALED)

            eventually(both_scaled, 300, f"api-gateway and inventory-app above 1 Ready pod (so far {scaled_up})", 5)
        finally:
            stop.set()
            requests_sent = sum(f.result() for f in loads)
    load_seconds = time.monotonic() - start

    stopped = time.monotonic()
    scaled_down: dict[str, float] = {}

    def both_back() -> bool:
        for name in AUTOSCALED:
            if name not in scaled_down and hpa_state(created_cluster, namespace, name) == (1, 1):
                scaled_down[name] = time.monotonic() - stopped
        return len(scaled_down) == len(AUTOSCALED)

    eventually(both_back, 480, f"both back at 1 pod (so far {scaled_down})", 5)
    created_cluster.figures["hpa"] = (
        f"scale-up after {', '.join(f'{n} {s:.0f}s' for n, s in scaled_up.items())} of load "
        f"({requests_sent} searches in {load_seconds:.0f}s); back to 1 pod "
        f"{', '.join(f'{n} {s:.0f}s' for n, s in scaled_down.items())} after the load stopped "
        f"(scale-down window {settings.get('scale_down_window_seconds', 300)}s)"
    )
