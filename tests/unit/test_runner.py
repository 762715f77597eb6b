"""runner.py: the whole run against an in-memory API (no real cluster): idempotence, prune, check mode, failures."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (
    GROUP_KINDS_ANNOTATION,
    PART_OF_LABEL,
    applyset_id,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import ApiError, StackError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import object_key
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.runner import execute, run_module
from tests.unit.recording_module import RecordingModule

SET_ID = applyset_id("stack-demo", "dev")

PROBES = "livenessProbe: {tcpSocket: {port: 80}}\n          readinessProbe: {tcpSocket: {port: 80}}"
RESOURCES = "resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 100m, memory: 32Mi}}"
TEMPLATES = {
    "web.yaml.j2": f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: web}}
data: {{greeting: {{{{ greeting | to_json }}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: example/web:{{{{ tag }}}}
          {RESOURCES}
          {PROBES}
""",
    "db.yaml.j2": f"""apiVersion: v1
kind: Secret
metadata: {{name: db}}
stringData: {{password: {{{{ secrets.db_password | to_json }}}}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  serviceName: db
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers:
        - name: db
          image: example/db:1
          {RESOURCES}
          {PROBES}
  volumeClaimTemplates:
    - metadata: {{name: data}}
      spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
""",
    "extra.yaml.j2": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: b}\n",
}
CLUSTER_SCOPED = {"Namespace"}


class FakeCluster:
    """An API server in a dict: stores applies, answers lists, makes workloads ready (or not)."""

    field_manager = "orchestrator.k3s.stack"

    def __init__(self) -> None:
        self.dry_run = False
        self.lists: list[tuple[str, str | None]] = []
        self.uids = 0
        self.store: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.writes: list[tuple[str, str, str, bool]] = []
        self.forced: list[tuple[str, str]] = []
        self.reads = 0

    # helpers for tests
    def key(self, body: dict[str, Any]) -> tuple[str, str, str, str]:
        group, kind, name = object_key(body)
        return group, kind, body["metadata"].get("namespace") or "", name

    def put(self, body: dict[str, Any]) -> None:
        self.store[self.key(body)] = copy.deepcopy(body)

    def find(self, kind: str, name: str, namespace: str = "dev") -> dict[str, Any] | None:
        for (_g, k, ns, n), body in self.store.items():
            if (k, n, ns) == (kind, name, "" if kind in CLUSTER_SCOPED else namespace):
                return body
        return None

    # the Cluster interface
    def resource(self, api_version: str, kind: str) -> Any:
        if kind == "Deploymnet":
            raise ApiError(f"the API server does not serve {kind} in {api_version}")
        return SimpleNamespace(namespaced=kind not in CLUSTER_SCOPED, group_version=api_version)

    def resource_for_group_kind(self, group: str, kind: str) -> Any:
        return SimpleNamespace(group_version=f"{group}/v1" if group else "v1")

    def list(self, api_version: str, kind: str, namespace: str | None, label_selector: str | None = None) -> list:
        self.resource(api_version, kind)  # as the real one: discovery first
        self.reads += 1
        self.lists.append((kind, label_selector))
        group = api_version.rpartition("/")[0]
        wanted = dict(term.split("=", 1) for term in label_selector.split(",")) if label_selector else {}
        return [
            copy.deepcopy(b)
            for (g, k, ns, _n), b in self.store.items()
            if (g, k) == (group, kind)
            and ns == (namespace or "")
            and all((b["metadata"].get("labels") or {}).get(a) == v for a, v in wanted.items())
        ]

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        self.resource(api_version, kind)
        self.reads += 1
        found = self.find(kind, name, namespace or "")
        return copy.deepcopy(found) if found else None

    def apply(self, body: dict[str, Any], field_manager: str | None = None, force: bool = False) -> dict[str, Any]:
        self.writes.append(("apply", body["kind"], body["metadata"]["name"], self.dry_run))
        if force:
            self.forced.append((body["kind"], body["metadata"]["name"]))
        live = copy.deepcopy(self.store.get(self.key(body), {}))
        live.update(copy.deepcopy(body))
        if "uid" not in live.get("metadata", {}):
            self.uids += 1
        uid = (self.store.get(self.key(body)) or {}).get("metadata", {}).get("uid") or f"uid-{self.uids}"
        live["metadata"] = {**live.get("metadata", {}), "uid": uid, "generation": 1}
        if body["kind"] in ("Deployment", "StatefulSet"):
            image = body["spec"]["template"]["spec"]["containers"][0]["image"]
            ready = 0 if image.endswith(":does-not-exist") else body["spec"].get("replicas", 1)
            live["status"] = {
                "observedGeneration": 1,
                "replicas": ready,
                "updatedReplicas": ready,
                "availableReplicas": ready,
                "readyReplicas": ready,
                "currentRevision": "r",
                "updateRevision": "r",
            }
        if not self.dry_run:
            self.store[self.key(body)] = live
        return live

    def delete(self, body: dict[str, Any]) -> bool:
        self.writes.append(("delete", body["kind"], body["metadata"]["name"], self.dry_run))
        live = self.store.get(self.key(body))
        # As the API server's UID precondition: only the very object that was listed.
        if live is None or live["metadata"].get("uid") != body["metadata"].get("uid"):
            return False
        if not self.dry_run:
            del self.store[self.key(body)]
        return True

    def remove_label(self, body: dict[str, Any], label: str) -> None:
        self.writes.append(("unlabel", body["kind"], body["metadata"]["name"], self.dry_run))
        if not self.dry_run:
            self.store[self.key(body)]["metadata"]["labels"].pop(label, None)


class FakeModule(RecordingModule):
    def __init__(self, src: Path | None, check_mode: bool = False, diff: bool = False, **params: Any) -> None:
        defaults = {
            "name": "demo",
            "namespace": "dev",
            "src": str(src) if src else None,
            "components": None,
            "values": {"greeting": "hello", "tag": "1"},
            "secrets": {"db_password": "placeholder-password"},  # pragma: allowlist secret (placeholder)
            "state": "present",
            "prune": True,
            "prune_pvcs": False,
            "wait": True,
            "wait_timeout": 5,
            "wait_sleep": 0.01,
            "dest": None,
            "validate": True,
            "kubernetes_version": "1.34",
            "field_manager": "orchestrator.k3s.stack",
            "force_conflicts": False,
            "rollback_on_failure": False,
            "create_namespace": True,
            "namespace_labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            "adopt": False,
            "tooling_version": "0.1.0",
            "stacks": None,
        }
        super().__init__({**defaults, **params}, check_mode=check_mode, diff=diff)


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "demo"
    folder.mkdir()
    for name, text in TEMPLATES.items():
        (folder / name).write_text(text)
    return folder


def run(stack: Path, cluster: FakeCluster, check_mode: bool = False, diff: bool = False, **params: Any) -> dict:
    """The module's result; a failure raises StackError with the result as its details."""
    cluster.dry_run = check_mode
    cluster.writes.clear()
    cluster.lists.clear()
    module = FakeModule(stack, check_mode=check_mode, diff=diff, **params)
    outcome = execute(module, connect=lambda *_args: cluster)
    if outcome["failure"]:
        raise StackError(outcome["failure"], **outcome["result"])
    return outcome["result"]


def actions(result: dict) -> dict[str, str]:
    return {f"{o['kind']}/{o['name']}": o["action"] for o in result["objects"]}


def test_first_run_creates_everything_and_the_second_changes_nothing(stack: Path) -> None:
    cluster = FakeCluster()
    first = run(stack, cluster)
    assert first["changed"] is True
    assert actions(first) == {
        "Namespace/dev": "created",
        "Secret/stack-demo": "created",
        "Secret/db": "created",
        "ConfigMap/web": "created",
        "ConfigMap/extra": "created",
        "Deployment/web": "created",
        "StatefulSet/db": "created",
    }
    assert first["workloads"] == [
        "Deployment dev/web: 2/2 replicas available",
        "StatefulSet dev/db: 1/1 replicas ready",
    ]
    assert cluster.find("Namespace", "dev")["metadata"]["labels"] == {
        "pod-security.kubernetes.io/enforce": "restricted"
    }
    parent = cluster.find("Secret", "stack-demo")
    assert (
        parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] == "ConfigMap,Deployment.apps,Secret,StatefulSet.apps"
    )
    assert cluster.find("ConfigMap", "web")["metadata"]["labels"][PART_OF_LABEL] == SET_ID

    second = run(stack, cluster)
    assert second["changed"] is False
    assert set(actions(second).values()) == {"unchanged"}
    assert cluster.writes == []


def test_a_render_change_and_drift_by_hand_are_both_applied(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    cluster.find("ConfigMap", "extra")["data"]["a"] = "edited by hand"
    result = run(stack, cluster, values={"greeting": "changed", "tag": "1"})
    assert {k: v for k, v in actions(result).items() if v != "unchanged"} == {
        "ConfigMap/web": "configured",
        "ConfigMap/extra": "configured",
        "Secret/stack-demo": "configured",
    }
    assert cluster.find("ConfigMap", "extra")["data"]["a"] == "b"


def test_a_removed_component_is_pruned_and_nothing_else(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    handmade = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "handmade", "namespace": "dev"}}
    theirs = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "theirs", "namespace": "dev", "labels": {PART_OF_LABEL: "applyset-other-v1"}},
    }
    cluster.put(handmade)
    cluster.put(theirs)
    result = run(stack, cluster, components=["db", "extra"])
    assert {k: v for k, v in actions(result).items() if v != "unchanged"} == {
        "Deployment/web": "pruned",
        "ConfigMap/web": "pruned",
        "Secret/stack-demo": "configured",
    }
    assert [w[:3] for w in cluster.writes if w[0] == "delete"] == [
        ("delete", "Deployment", "web"),
        ("delete", "ConfigMap", "web"),
    ]
    assert cluster.find("ConfigMap", "handmade") and cluster.find("Deployment", "theirs")
    assert cluster.find("Secret", "stack-demo")["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] == (
        "ConfigMap,Secret,StatefulSet.apps"
    )


def test_a_kind_dropped_from_the_render_is_still_found_and_pruned(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    result = run(stack, cluster, components=["extra"])
    assert actions(result)["StatefulSet/db"] == "pruned" and actions(result)["Deployment/web"] == "pruned"
    # The claims a StatefulSet made hold data: kept unless prune_pvcs.
    assert cluster.find("Secret", "db") is None


def test_prune_false_keeps_removed_members_in_the_set(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    result = run(stack, cluster, components=["extra"], prune=False)
    assert "pruned" not in actions(result).values()
    assert "Deployment.apps" in cluster.find("Secret", "stack-demo")["metadata"]["annotations"][GROUP_KINDS_ANNOTATION]


def test_check_mode_dry_runs_every_write_and_changes_nothing(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    before = copy.deepcopy(cluster.store)
    result = run(stack, cluster, check_mode=True, components=["web"], values={"greeting": "new", "tag": "1"})
    assert {k: v for k, v in actions(result).items() if v != "unchanged"} == {
        "ConfigMap/web": "configured",
        "StatefulSet/db": "pruned",
        "Secret/db": "pruned",
        "ConfigMap/extra": "pruned",
        "Secret/stack-demo": "configured",
    }
    assert cluster.writes and all(dry for *_w, dry in cluster.writes)
    assert cluster.store == before


def test_check_mode_in_a_namespace_that_does_not_exist_yet_predicts_creations(stack: Path) -> None:
    cluster = FakeCluster()
    result = run(stack, cluster, check_mode=True)
    assert set(actions(result).values()) == {"created"}
    assert cluster.writes == [("apply", "Namespace", "dev", True)]
    assert cluster.store == {}


def test_diff_shows_changes_with_secret_values_masked(stack: Path) -> None:
    cluster = FakeCluster()
    result = run(stack, cluster, diff=True)
    secret = next(d for d in result["diff"] if d["after_header"].startswith("Secret dev/db"))
    assert "password: '***'" in secret["after"] and "placeholder" not in secret["after"]
    assert "diff" not in run(stack, cluster, diff=True)


def test_an_object_of_another_applyset_fails_the_run_before_any_write(stack: Path) -> None:
    cluster = FakeCluster()
    cluster.put(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "dev", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
        }
    )
    cluster.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "extra", "namespace": "dev", "labels": {PART_OF_LABEL: "applyset-other-v1"}},
        }
    )
    with pytest.raises(StackError, match="already belongs to another ApplySet"):
        run(stack, cluster)
    assert cluster.writes == []


def test_a_template_error_fails_before_any_api_call(stack: Path) -> None:
    cluster = FakeCluster()
    (stack / "web.yaml.j2").write_text(TEMPLATES["web.yaml.j2"].replace("greeting |", "undefined_value |"))
    with pytest.raises(StackError, match=r"web\.yaml\.j2:4: undefined variable"):
        run(stack, cluster)
    assert cluster.reads == 0 and cluster.writes == []


def test_an_unknown_kind_fails_before_any_member_is_written(stack: Path) -> None:
    cluster = FakeCluster()
    (stack / "extra.yaml.j2").write_text(
        TEMPLATES["extra.yaml.j2"].replace("v1\nkind: ConfigMap", "apps/v1\nkind: Deploymnet")
    )
    with pytest.raises(StackError, match="does not serve Deploymnet"):
        run(stack, cluster, validate=False)
    assert [w for w in cluster.writes if w[1] != "Namespace"] == []


def run_with_a_bad_image(stack: Path, cluster: FakeCluster, **params: Any) -> dict:
    """A run whose workloads never become ready (the fake keeps :does-not-exist images at 0 ready)."""
    return run(stack, cluster, values={"greeting": "hello", "tag": "does-not-exist"}, wait_timeout=0, **params)


def test_a_workload_that_does_not_become_ready_fails_and_nothing_is_pruned(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    with pytest.raises(StackError) as error:
        run_with_a_bad_image(stack, cluster, components=["web", "db"])
    assert "Deployment dev/web: 0/2 replicas updated" in error.value.message
    assert error.value.details["object"] == {"kind": "Deployment", "name": "web", "namespace": "dev"}
    assert cluster.find("ConfigMap", "extra") is not None


def test_rollback_restores_the_last_good_render(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    with pytest.raises(StackError) as error:
        run_with_a_bad_image(stack, cluster, rollback_on_failure=True)
    assert error.value.message.endswith("rolled back to the last good render")
    assert error.value.details["rolled_back"] is True
    image = cluster.find("Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "example/web:1"
    assert run(stack, cluster)["changed"] is False


def test_rollback_without_an_earlier_render_says_so(stack: Path) -> None:
    cluster = FakeCluster()
    with pytest.raises(StackError, match="no earlier good render to roll back to"):
        run_with_a_bad_image(stack, cluster, rollback_on_failure=True)


def test_state_absent_deletes_members_and_parent_and_keeps_the_namespace_and_claims(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-db-0", "namespace": "dev", "labels": {"app": "db"}},
    }
    member_claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "scratch", "namespace": "dev", "labels": {PART_OF_LABEL: SET_ID}},
    }
    cluster.put(claim)
    cluster.put(member_claim)
    parent = cluster.find("Secret", "stack-demo")
    parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] += ",PersistentVolumeClaim"
    result = run(stack, cluster, state="absent")
    assert actions(result) == {
        "StatefulSet/db": "deleted",
        "Deployment/web": "deleted",
        "ConfigMap/web": "deleted",
        "ConfigMap/extra": "deleted",
        "Secret/db": "deleted",
        "PersistentVolumeClaim/scratch": "retained",
        "Secret/stack-demo": "deleted",
    }
    assert sorted(k[1] for k in cluster.store) == ["Namespace", "PersistentVolumeClaim", "PersistentVolumeClaim"]
    assert PART_OF_LABEL not in cluster.find("PersistentVolumeClaim", "scratch")["metadata"]["labels"]
    assert run(stack, cluster, state="absent")["changed"] is False


def test_prune_pvcs_also_deletes_the_claims_of_a_deleted_statefulset(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster)
    # The StatefulSet controller labels the claims it makes with the set's selector.
    claim = {"name": "data-db-0", "namespace": "dev", "labels": {"app": "db"}, "uid": "c1"}
    cluster.put({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim})
    result = run(stack, cluster, components=["web", "extra"], prune_pvcs=True)
    assert actions(result)["PersistentVolumeClaim/data-db-0"] == "pruned"
    assert cluster.find("PersistentVolumeClaim", "data-db-0") is None


def test_dest_renders_files_and_talks_to_no_cluster(stack: Path, tmp_path: Path) -> None:
    result = execute(FakeModule(stack, dest=str(tmp_path / "out")), connect=None)["result"]
    assert result["changed"] is True and len(result["files"]) == 3
    assert {o["action"] for o in result["objects"]} == {"rendered"}


def test_run_module_reports_failures_with_details_and_no_traceback(stack: Path) -> None:
    module = FakeModule(stack)
    (stack / "web.yaml.j2").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, labels: [}\n")
    run_module(module)
    assert module.exit is None
    assert "web.yaml.j2: rendered output is not valid YAML" in module.failure["msg"]
    assert module.failure["changed"] is False and module.failure["objects"] == []


def test_validation_errors_are_reported_as_a_list_before_any_write(stack: Path) -> None:
    cluster = FakeCluster()
    (stack / "extra.yaml.j2").write_text(TEMPLATES["extra.yaml.j2"] + "spec: {}\n")
    outcome = execute(FakeModule(stack), connect=lambda *_args: cluster)
    errors = outcome["result"]["errors"]
    assert errors == ["{}: ConfigMap dev/extra: spec: unknown field".format(errors[0].split(":")[0])]
    assert errors[0].split(":")[0].endswith("demo/extra.yaml.j2")
    assert cluster.writes == []


# -- defects of 0.1.0, each with the test that failed before its fix ------------------------------------------


def test_members_are_listed_by_the_applyset_label_only(stack: Path) -> None:
    """2h: never every object of a kind in the namespace."""
    cluster = FakeCluster()
    run(stack, cluster)
    cluster.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "handmade", "namespace": "dev"}})
    run(stack, cluster, components=["web", "db"])
    assert cluster.lists and all(selector and PART_OF_LABEL in selector for _kind, selector in cluster.lists)


def test_an_existing_object_outside_the_set_is_not_adopted_silently(stack: Path) -> None:
    """2f: the run fails naming it before any write, unless adopt=true."""
    cluster = FakeCluster()
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    cluster.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra", "namespace": "dev"}})
    with pytest.raises(StackError, match="ConfigMap dev/extra exists and is not a member of this stack"):
        run(stack, cluster, namespace_labels=None)
    assert cluster.writes == []
    result = run(stack, cluster, adopt=True)
    assert actions(result)["ConfigMap/extra"] == "configured"
    assert cluster.find("ConfigMap", "extra")["metadata"]["labels"][PART_OF_LABEL] == SET_ID
    # Taking it over forces the fields its maker's field manager held (tests/integration: a real conflict).
    assert cluster.forced == [("ConfigMap", "extra")]


def test_an_existing_namespace_keeps_its_labels_unless_asked(stack: Path) -> None:
    """2i: Pod Security labels only on a namespace the module creates, or when namespace_labels is given."""
    cluster = FakeCluster()
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev", "labels": {"team": "a"}}})
    result = run(stack, cluster, namespace_labels=None)
    assert "Namespace/dev" not in actions(result)
    assert cluster.find("Namespace", "dev")["metadata"]["labels"] == {"team": "a"}


def test_a_created_namespace_gets_the_restricted_labels(stack: Path) -> None:
    cluster = FakeCluster()
    run(stack, cluster, namespace_labels=None)
    assert cluster.find("Namespace", "dev")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_namespace_labels_are_not_set_before_the_ownership_check(stack: Path) -> None:
    """2i: a run refused for ownership changes nothing, not even the namespace's labels."""
    cluster = FakeCluster()
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    theirs = {"name": "extra", "namespace": "dev", "labels": {PART_OF_LABEL: "applyset-other-v1"}}
    cluster.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": theirs})
    with pytest.raises(StackError, match="already belongs to another ApplySet"):
        run(stack, cluster, namespace_labels={"pod-security.kubernetes.io/enforce": "baseline"})
    assert cluster.writes == []


class FailingDeletes(FakeCluster):
    def delete(self, body: dict[str, Any]) -> bool:
        raise StackError(f"deleting {body['kind']} {body['metadata']['name']} failed: 500 InternalError")


def test_a_failed_prune_after_a_successful_apply_does_not_roll_back(stack: Path) -> None:
    """2e: roll back only when the apply or the wait fails."""
    cluster = FailingDeletes()
    run(stack, cluster)
    with pytest.raises(StackError) as error:
        run(stack, cluster, components=["web", "db"], values={"greeting": "new", "tag": "2"}, rollback_on_failure=True)
    assert "deleting ConfigMap extra failed" in error.value.message
    assert "rolled back" not in error.value.message and "rolled_back" not in error.value.details
    image = cluster.find("Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "example/web:2"


def test_a_render_too_big_to_keep_is_applied_with_a_warning_and_no_copy(stack: Path) -> None:
    """2e: the stored render has a size check well below the 1 MiB object limit."""
    import base64
    import os

    cluster = FakeCluster()
    noise = base64.b64encode(os.urandom(600 * 1024)).decode("ascii")
    big = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata: {{k: {noise}}}\n"
    (stack / "big.yaml.j2").write_text(big)
    module = FakeModule(stack)
    outcome = execute(module, connect=lambda *_args: cluster)
    assert outcome["failure"] is None
    assert any("too big to keep" in warning for warning in outcome["warnings"])
    assert "last-good-render.json.gz" not in cluster.find("Secret", "stack-demo")["data"]


def test_a_second_run_of_the_same_render_writes_nothing_and_skips_validation(
    stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path: the parent's digest says this render was applied (and validated) already."""
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack import validate

    cluster = FakeCluster()
    run(stack, cluster)

    def must_not_run(*_args: Any, **_kwargs: Any) -> list[str]:
        raise AssertionError("validated again")

    monkeypatch.setattr(validate, "validate_stack", must_not_run)
    result = run(stack, cluster)
    assert result["changed"] is False and cluster.writes == []
    with pytest.raises(AssertionError, match="validated again"):
        run(stack, cluster, kubernetes_version="1.33")


def test_several_stacks_share_one_client_and_a_bad_one_stops_all_before_any_write(stack: Path, tmp_path: Path) -> None:
    cluster = FakeCluster()
    connects = []

    def connect(*args: Any) -> FakeCluster:
        connects.append(args)
        return cluster

    def item(name: str, namespace: str, greeting: str) -> dict[str, Any]:
        values = {"greeting": greeting, "tag": "1"}
        secrets = {"db_password": f"placeholder-{name}"}  # pragma: allowlist secret (placeholder)
        return {"name": name, "namespace": namespace, "src": str(stack), "values": values, "secrets": secrets,
                "components": None, "state": "present"}  # fmt: skip

    stacks = [item("one", "dev", "a"), item("two", "prod", "b")]
    module = FakeModule(None, name=None, namespace=None, values=None, secrets=None, stacks=stacks)
    outcome = execute(module, connect=connect)
    assert outcome["failure"] is None, outcome["failure"]
    assert len(connects) == 1
    assert [(s["name"], s["namespace"], s["changed"]) for s in outcome["result"]["stacks"]] == [
        ("one", "dev", True),
        ("two", "prod", True),
    ]
    assert cluster.find("ConfigMap", "web", "prod")["data"] == {"greeting": "b"}

    again = execute(module, connect=connect)
    assert again["result"]["changed"] is False

    cluster.writes.clear()
    stacks[1]["values"] = {"greeting": "c"}  # no tag: undefined in the second stack's templates
    stacks[0]["values"] = {"greeting": "changed", "tag": "1"}
    failed = execute(module, connect=connect)
    assert failed["failure"].startswith("stack two in prod: ") and "undefined" in failed["failure"]
    assert cluster.writes == []


def test_dest_with_several_stacks_writes_one_folder_per_stack(stack: Path, tmp_path: Path) -> None:
    stacks = [
        {"name": n, "namespace": ns, "src": str(stack), "values": {"greeting": "a", "tag": "1"},
         "secrets": {"db_password": "placeholder"}, "components": None, "state": "present"}  # pragma: allowlist secret
        for n, ns in (("one", "dev"), ("two", "prod"))
    ]  # fmt: skip
    module = FakeModule(None, name=None, namespace=None, values=None, secrets=None, stacks=stacks, dest=str(tmp_path))
    outcome = execute(module, connect=None)
    assert outcome["failure"] is None and outcome["result"]["changed"] is True
    assert [len(s["files"]) for s in outcome["result"]["stacks"]] == [3, 3]
    assert (tmp_path / "prod" / "two" / "web.yaml").exists()
