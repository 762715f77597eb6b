"""The local test control plane behaves like the cluster the stack module targets."""

from __future__ import annotations

import json
import time

from tests.support.apiserver import LocalCluster


def _wait_for(predicate, timeout: float = 30.0, interval: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met after {timeout}s (last value: {last!r})")


def test_server_is_kubernetes_1_34(cluster: LocalCluster) -> None:
    version = json.loads(cluster.kubectl("version", "-o", "json"))["serverVersion"]
    assert (version["major"], version["minor"]) == ("1", "34")


def test_three_nodes_are_ready(cluster: LocalCluster) -> None:
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["orch-master", "orch-worker1", "orch-worker2"]
    for node in nodes:
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"


def test_deployment_becomes_available_and_pvc_binds(cluster: LocalCluster) -> None:
    cluster.kubectl("create", "namespace", "harness-ok")
    cluster.apply("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: harness-ok}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
           labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: "registry.invalid/web:1.0"}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: harness-ok}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
""")

    def available() -> bool:
        dep = json.loads(cluster.kubectl("get", "deployment", "web", "-n", "harness-ok", "-o", "json"))
        return dep["status"].get("availableReplicas") == 3

    _wait_for(available)
    _wait_for(
        lambda: cluster.kubectl("get", "pvc", "data", "-n", "harness-ok", "-o", "jsonpath={.status.phase}") == "Bound"
    )
    nodes = set(
        cluster.kubectl(
            "get", "pods", "-n", "harness-ok", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}"
        ).split()
    )
    assert len(nodes) == 3, "the real scheduler must honour the spread constraint over the simulated nodes"


def test_bad_image_reports_err_image_pull(cluster: LocalCluster) -> None:
    cluster.kubectl("create", "namespace", "harness-bad")
    cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: broken, namespace: harness-bad}
spec:
  containers: [{name: app, image: "registry.invalid/app:does-not-exist"}]
""")
    reason = _wait_for(
        lambda: cluster.kubectl(
            "get",
            "pod",
            "broken",
            "-n",
            "harness-bad",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.waiting.reason}",
        )
    )
    assert reason == "ErrImagePull"
    assert cluster.kubectl("get", "pod", "broken", "-n", "harness-bad", "-o", "jsonpath={.status.phase}") == "Pending"
