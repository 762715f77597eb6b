"""The module's warm worker against the real kube-apiserver: same results as in the module process, reused, private."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cache import cache_dir
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.worker_client import worker_status
from tests.integration.stack_runs import actions, run_stack, values_for
from tests.support.apiserver import LocalCluster
from tests.unit.conftest import PLACEHOLDER_SECRETS

NAMESPACE = "warm-it"


def served(status: dict[str, dict[str, Any]]) -> int:
    return sum(s["served"] for s in status.values())


@pytest.fixture(scope="module")
def applied(cluster: LocalCluster) -> dict[str, Any]:
    """The vote stack applied by the worker; NodePorts of its own, the other namespaces use the defaults."""
    result = run_stack(cluster, "vote", NAMESPACE, values=values(), wait=False)
    assert not result.get("failed"), result.get("msg")
    return result


def values(**overrides: Any) -> dict[str, Any]:
    return values_for(node_ports={"vote": 30910, "result": 30911, "api-gateway": 30912}, **overrides)


def test_the_worker_and_the_module_process_report_the_same(cluster: LocalCluster, applied: dict) -> None:
    warm = run_stack(cluster, "vote", NAMESPACE, values=values(), wait=False)
    cold = run_stack(cluster, "vote", NAMESPACE, values=values(), wait=False, warm_worker=False)
    assert warm["changed"] is False and cold["changed"] is False
    assert actions(warm) == actions(cold) and set(actions(warm).values()) == {"unchanged"}

    # A change, in check mode with --diff: the same plan and the same diff from both.
    more = values(replicas={"vote": 1, "result": 2, "worker": 1, "billing-app": 1})
    warm = run_stack(cluster, "vote", NAMESPACE, values=more, wait=False, check=True, diff=True)
    cold = run_stack(cluster, "vote", NAMESPACE, values=more, wait=False, check=True, diff=True, warm_worker=False)
    assert actions(warm) == actions(cold) and actions(warm)["Deployment/result"] == "configured"
    assert warm["diff"] == cold["diff"] and "replicas: 2" in warm["diff"][0]["after"]


def test_runs_reuse_one_worker(cluster: LocalCluster, applied: dict) -> None:
    before = worker_status()
    run_stack(cluster, "vote", NAMESPACE, values=values(), wait=False)
    run_stack(cluster, "vote", NAMESPACE, values=values(), wait=False)
    after = worker_status()
    assert set(after) == set(before), "a run started a new worker instead of reusing the running one"
    assert served(after) == served(before) + 2


def test_the_worker_keeps_no_secret_on_disk(cluster: LocalCluster, applied: dict) -> None:
    folder = cache_dir("stack-worker")
    assert folder is not None and folder.stat().st_mode & 0o777 == 0o700
    secrets = [value.encode() for value in PLACEHOLDER_SECRETS["vote"].values()]
    for path in Path(folder).iterdir():
        if path.is_file():
            assert not any(secret in path.read_bytes() for secret in secrets), path
