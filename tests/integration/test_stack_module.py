"""orchestrator.k3s.stack through ansible-playbook against a real kube-apiserver 1.34 (kwok nodes).

The tests of one namespace build on each other in file order: first apply,
unchanged second run, check mode, prune, removal.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.stack_runs import actions, live_objects, run_stack, values_for
from tests.support.apiserver import LocalCluster
from tests.unit.conftest import STACKS

NAMESPACE = "stacks-it"
MEMBER_KINDS = "secrets,configmaps,services,deployments,statefulsets,hpa,ingresses,networkpolicies"
WORKLOAD_KINDS = "deployments,statefulsets"


@pytest.fixture(scope="module")
def first_apply(cluster: LocalCluster) -> dict[str, dict[str, Any]]:
    return {stack: run_stack(cluster, stack, NAMESPACE) for stack in ("vote", "crud")}


def test_first_apply_creates_everything_and_waits_until_ready(cluster: LocalCluster, first_apply: dict) -> None:
    for result in first_apply.values():
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is True
        assert set(actions(result).values()) == {"created"}, actions(result)
    vote, crud = first_apply["vote"], first_apply["crud"]
    assert actions(vote)["Namespace/stacks-it"] == "created" and "Namespace/stacks-it" not in actions(crud)
    assert len(vote["objects"]) + len(crud["objects"]) >= 50

    # Ready when the module returned, not later.
    workloads = live_objects(cluster, NAMESPACE, WORKLOAD_KINDS)
    assert sorted(workloads) == sorted(
        f"{o['kind']}/{o['name']}"
        for r in first_apply.values()
        for o in r["objects"]
        if o["kind"] in ("Deployment", "StatefulSet")
    )
    for name, workload in workloads.items():
        status = workload["status"]
        assert status.get("readyReplicas", 0) == workload["spec"]["replicas"] >= 1, name
    claims = json.loads(cluster.kubectl("get", "pvc", "-n", NAMESPACE, "-o", "json"))["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == [
        "data-billing-db-0",
        "data-billing-queue-0",
        "data-db-0",
        "data-inventory-db-0",
        "data-redis-0",
    ]
    assert {c["status"]["phase"] for c in claims} == {"Bound"}

    namespace = json.loads(cluster.kubectl("get", "namespace", NAMESPACE, "-o", "json"))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def applied_at(cluster: LocalCluster) -> dict[str, list[str]]:
    """When the module's field manager last wrote each object (not resourceVersion: controllers write status)."""
    return {
        key: [
            m.get("time", "")
            for m in body["metadata"].get("managedFields", [])
            if m["manager"] == "orchestrator.k3s.stack"
        ]
        for key, body in live_objects(cluster, NAMESPACE, MEMBER_KINDS).items()
    }


def test_the_second_run_changes_nothing(cluster: LocalCluster, first_apply: dict) -> None:
    before = applied_at(cluster)
    for stack in ("vote", "crud"):
        result = run_stack(cluster, stack, NAMESPACE)
        assert result["changed"] is False, [o for o in result["objects"] if o["action"] != "unchanged"]
        assert set(actions(result).values()) == {"unchanged"}
    assert applied_at(cluster) == before


def test_the_set_is_the_one_kubectl_sees(
    cluster: LocalCluster, first_apply: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_id = first_apply["vote"]["applyset"]["id"]
    parent = json.loads(cluster.kubectl("get", "secret", "stack-vote", "-n", NAMESPACE, "-o", "json"))
    assert parent["metadata"]["labels"]["applyset.kubernetes.io/id"] == set_id
    members = cluster.kubectl(
        "get", MEMBER_KINDS, "-n", NAMESPACE, "-l", f"applyset.kubernetes.io/part-of={set_id}", "-o", "name"
    ).split()
    expected = {
        f"{o['kind']}/{o['name']}"
        for o in first_apply["vote"]["objects"]
        if o["component"] not in (None, "(applyset parent)")
    }
    assert {m.split("/", 1)[1] for m in members} == {e.split("/", 1)[1] for e in expected}
    assert len(members) == len(expected)

    # kubectl computes the same ID for a parent it creates itself...
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import applyset_id

    monkeypatch.setenv("KUBECTL_APPLYSET", "true")
    configmap = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}, "data": {"a": "b"}}'
    cluster.kubectl("create", "namespace", "kubectl-applyset")
    cluster.kubectl(
        "apply",
        "-n",
        "kubectl-applyset",
        "--server-side",
        "--prune",
        "--applyset=stack-probe",
        "-f",
        "-",
        stdin=configmap,
    )
    made_by_kubectl = json.loads(
        cluster.kubectl("get", "secret", "stack-probe", "-n", "kubectl-applyset", "-o", "json")
    )
    assert made_by_kubectl["metadata"]["labels"]["applyset.kubernetes.io/id"] == applyset_id(
        "stack-probe", "kubectl-applyset"
    )
    # ...and recognises ours as the set of another tool, which it refuses to change (KEP-3659).
    with pytest.raises(RuntimeError, match='managed by tooling "orchestrator.k3s.stack" instead of "kubectl"'):
        cluster.kubectl(
            "apply",
            "-n",
            NAMESPACE,
            "--server-side",
            "--prune",
            "--applyset=stack-vote",
            "--dry-run=server",
            "-f",
            "-",
            stdin=configmap,
        )


def test_check_mode_changes_nothing_and_reports_what_would_change(cluster: LocalCluster, first_apply: dict) -> None:
    before = applied_at(cluster)
    values = values_for(vote_options={"a": "Tea", "b": "Coffee"})
    result = run_stack(
        cluster,
        "vote",
        NAMESPACE,
        check=True,
        diff=True,
        values=values,
        components=["db", "default-deny", "redis", "result", "vote"],
    )
    assert result["changed"] is True
    changed = {k: v for k, v in actions(result).items() if v != "unchanged"}
    assert changed == {
        "ConfigMap/vote": "configured",
        "ConfigMap/result": "configured",
        "Deployment/vote": "configured",
        "Deployment/result": "configured",  # config checksum annotation
        "NetworkPolicy/worker": "pruned",
        "Deployment/worker": "pruned",
        "ConfigMap/worker": "pruned",
        "Secret/stack-vote": "configured",
    }
    vote_diff = next(d for d in result["diff"] if d["before_header"].startswith("ConfigMap stacks-it/vote"))
    assert "OPTION_A: Cats" in vote_diff["before"] and "OPTION_A: Tea" in vote_diff["after"]
    parent_diff = next(d for d in result["diff"] if d["before_header"].startswith("Secret stacks-it/stack-vote"))
    assert "*** (after)" in parent_diff["after"] and "H4sI" not in parent_diff["after"] + parent_diff["before"]
    assert applied_at(cluster) == before


def test_check_mode_of_a_new_namespace_reports_creations(cluster: LocalCluster) -> None:
    result = run_stack(cluster, "vote", "stacks-it-never", check=True)
    assert not result.get("failed"), result.get("msg")
    assert set(actions(result).values()) == {"created"}
    assert "stacks-it-never" not in cluster.kubectl("get", "namespaces", "-o", "name")


def test_removing_a_component_prunes_exactly_its_objects(cluster: LocalCluster, first_apply: dict) -> None:
    cluster.kubectl("create", "configmap", "made-by-hand", "-n", NAMESPACE, "--from-literal=keep=me")
    before = set(live_objects(cluster, NAMESPACE, MEMBER_KINDS))
    result = run_stack(cluster, "vote", NAMESPACE, components=["db", "default-deny", "redis", "result", "vote"])
    assert not result.get("failed"), result.get("msg")
    pruned = {k for k, v in actions(result).items() if v == "pruned"}
    assert pruned == {"NetworkPolicy/worker", "Deployment/worker", "ConfigMap/worker"}
    after = set(live_objects(cluster, NAMESPACE, MEMBER_KINDS))
    assert before - after == pruned
    assert "ConfigMap/made-by-hand" in after
    # Putting the component back recreates just its objects.
    restored = run_stack(cluster, "vote", NAMESPACE)
    assert {k for k, v in actions(restored).items() if v == "created"} == pruned


def broken_copy(tmp_path: Path, stack: str, template: str, old: str, new: str) -> Path:
    folder = tmp_path / "stacks" / stack
    shutil.copytree(STACKS / stack, folder)
    shutil.copytree(STACKS / "_lib", tmp_path / "stacks" / "_lib")
    path = folder / template
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


@pytest.mark.parametrize(
    ("template", "old", "new", "fragments"),
    [
        (
            "worker.yaml.j2",
            "replicas: {{ replicas.worker }}",
            "replicas: {{ replicas.missing_worker }}",
            [r"worker.yaml.j2:", "undefined variable", "missing_worker"],
        ),
        (
            "worker.yaml.j2",
            "  replicas: {{ replicas.worker }}",
            "  replica: {{ replicas.worker }}",
            ["worker.yaml.j2: Deployment stacks-it-broken/worker: spec.replica: unknown field"],
        ),
        (
            "redis.yaml.j2",
            "            - name: REDISCLI_AUTH\n              valueFrom: {secretKeyRef: {name: redis, key: password}}",
            "            - name: REDISCLI_AUTH\n              value: {{ secrets.redis_password }}",
            [
                "redis.yaml.j2: StatefulSet stacks-it-broken/redis: spec.template.spec.containers[0].env[0].value "
                "(REDISCLI_AUTH): holds the value of Secret redis key password"
            ],
        ),
    ],
    ids=["undefined-variable", "schema-error", "secret-in-env"],
)
def test_bad_input_fails_before_any_object_is_written(
    cluster: LocalCluster, tmp_path: Path, template: str, old: str, new: str, fragments: list[str]
) -> None:
    src = broken_copy(tmp_path, "vote", template, old, new)
    result = run_stack(cluster, "vote", "stacks-it-broken", src=src)
    assert result["failed"] is True
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert result["objects"] == [] and result["changed"] is False
    assert "stacks-it-broken" not in cluster.kubectl("get", "namespaces", "-o", "name")


def test_a_bad_image_fails_within_the_wait_timeout_naming_object_and_reason(cluster: LocalCluster) -> None:
    values = values_for()
    values["images"]["vote"]["tag"] = "does-not-exist"
    values["node_ports"] = {"vote": 30900, "result": 30901}
    started = time.monotonic()
    result = run_stack(cluster, "vote", "stacks-it-image", values=values, components=["vote"], wait_timeout=20)
    elapsed = time.monotonic() - started
    assert result["failed"] is True
    assert 20 <= result["seconds"] and elapsed < 20 + 30
    assert result["object"] == {"kind": "Deployment", "name": "vote", "namespace": "stacks-it-image"}
    assert "Deployment stacks-it-image/vote" in result["msg"] and "ErrImagePull" in result["msg"]
    assert "orchestrator-k3s/vote:does-not-exist" in result["reason"]


def test_state_absent_removes_the_stack_but_not_the_namespace_nor_the_data(
    cluster: LocalCluster, first_apply: dict
) -> None:
    result = run_stack(cluster, "vote", NAMESPACE, state="absent")
    assert not result.get("failed"), result.get("msg")
    assert set(actions(result).values()) == {"deleted"}
    remaining = set(live_objects(cluster, NAMESPACE, MEMBER_KINDS))
    assert not {k for k in remaining if k.split("/")[1] in {"vote", "result", "worker", "redis", "db", "stack-vote"}}
    assert "Deployment/api-gateway" in remaining  # the other stack in the namespace
    claims = cluster.kubectl("get", "pvc", "-n", NAMESPACE, "-o", "name").split()
    assert "persistentvolumeclaim/data-db-0" in claims and "persistentvolumeclaim/data-redis-0" in claims
    assert run_stack(cluster, "vote", NAMESPACE, state="absent")["changed"] is False
