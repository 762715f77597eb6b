"""applyset.py: KEP-3659 membership as kubectl computes and reads it, and what pruning may touch."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (
    GROUP_KINDS_ANNOTATION,
    PARENT_ID_LABEL,
    PART_OF_LABEL,
    TOOLING_ANNOTATION,
    applyset_id,
    check_adoption,
    check_parent,
    decode_render,
    encode_render,
    format_group_kinds,
    parent_body,
    parent_is_current,
    parse_group_kinds,
    plan_prune,
    statefulset_claim_names,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import OwnershipError

SET_ID = applyset_id("stack-demo", "dev")


def test_the_id_is_the_one_kubectl_computes() -> None:
    # Read from the parent Secret that `KUBECTL_APPLYSET=true kubectl apply --server-side
    # --prune --applyset=stack-demo -n kubectl-probe` (kubectl 1.37) created; the
    # integration suite repeats the comparison against the kubectl in the venv.
    assert applyset_id("stack-demo", "kubectl-probe") == "applyset-jH3nD-zvczgAWSXJVc8e6PdHYBIOI42ZZTK96-aRQZQ-v1"


def test_the_id_depends_on_name_namespace_and_kind() -> None:
    ids = {
        applyset_id("a", "dev"),
        applyset_id("a", "prod"),
        applyset_id("b", "dev"),
        applyset_id("a", "dev", "ConfigMap"),
    }
    assert len(ids) == 4
    assert all(i.startswith("applyset-") and i.endswith("-v1") and "=" not in i and len(i) <= 63 for i in ids)


@pytest.mark.parametrize(
    ("annotation", "kinds"),
    [
        ("", set()),
        (None, set()),
        ("ConfigMap,Deployment.apps", {("", "ConfigMap"), ("apps", "Deployment")}),
        ("NetworkPolicy.networking.k8s.io", {("networking.k8s.io", "NetworkPolicy")}),
    ],
)
def test_group_kinds_annotation_round_trip(annotation: str | None, kinds: set) -> None:
    assert parse_group_kinds(annotation) == kinds
    assert format_group_kinds(kinds) == (annotation or "")


def test_group_kinds_are_sorted_as_kubectl_writes_them() -> None:
    assert format_group_kinds({("apps", "StatefulSet"), ("", "Secret"), ("apps", "Deployment")}) == (
        "Deployment.apps,Secret,StatefulSet.apps"
    )


def parent(tooling: str | None = "orchestrator.k3s.stack/v0.1.0", set_id: str = SET_ID) -> dict[str, Any]:
    annotations = {TOOLING_ANNOTATION: tooling} if tooling else {}
    return {
        "kind": "Secret",
        "metadata": {
            "name": "stack-demo",
            "namespace": "dev",
            "labels": {PARENT_ID_LABEL: set_id},
            "annotations": annotations,
        },
    }


@pytest.mark.parametrize(
    ("live", "message"),
    [
        (parent(tooling=None), "is not an ApplySet parent"),
        (parent(tooling="kubectl/v1.34"), "tooling 'kubectl'"),
        (parent(set_id="applyset-other-v1"), "expected 'applyset-"),
    ],
)
def test_a_parent_of_another_tool_or_set_is_refused(live: dict, message: str) -> None:
    with pytest.raises(OwnershipError, match=message):
        check_parent(live, SET_ID)


def test_our_own_or_no_parent_is_fine() -> None:
    check_parent(None, SET_ID)
    check_parent(parent(), SET_ID)


def member(kind: str, name: str, owner: str | None = SET_ID, api_version: str = "v1") -> dict[str, Any]:
    labels = {PART_OF_LABEL: owner} if owner else {}
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "dev", "labels": labels}}


def test_adoption_of_an_object_owned_by_another_set_is_refused() -> None:
    check_adoption(None, SET_ID)
    check_adoption(member("ConfigMap", "mine"), SET_ID)
    check_adoption(member("ConfigMap", "handmade", owner=None), SET_ID)
    with pytest.raises(OwnershipError, match="already belongs to another ApplySet"):
        check_adoption(member("ConfigMap", "theirs", owner="applyset-other-v1"), SET_ID)


def test_the_render_is_stored_compressed_and_identically_for_equal_input() -> None:
    render = [{"component": "web", "body": {"kind": "ConfigMap", "data": {"k": "v" * 5000}}}]
    digest, encoded = encode_render(render)
    assert (digest, encoded) == encode_render(render)
    assert len(encoded) < 1000
    assert decode_render({"data": {"last-good-render.json.gz": encoded}}) == render
    assert decode_render(None) is None


def test_the_parent_is_written_only_when_it_changes() -> None:
    body = parent_body(
        "demo", "dev", SET_ID, "orchestrator.k3s.stack/v0.1.0", {("apps", "Deployment")}, ("h", "ZGF0YQ==")
    )
    assert body["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] == "Deployment.apps"
    live = {
        **body,
        "metadata": {
            **body["metadata"],
            "resourceVersion": "7",
            "annotations": {**body["metadata"]["annotations"], "other": "x"},
        },
    }
    assert parent_is_current(live, body)
    assert not parent_is_current(None, body)
    other = parent_body("demo", "dev", SET_ID, "orchestrator.k3s.stack/v0.1.0", {("", "Secret")}, ("h", "ZGF0YQ=="))
    assert not parent_is_current(live, other)


@pytest.mark.parametrize(
    ("live", "prune_pvcs", "deleted", "retained"),
    [
        ([member("ConfigMap", "kept"), member("ConfigMap", "gone")], False, ["gone"], []),
        ([member("ConfigMap", "handmade", owner=None)], False, [], []),
        ([member("ConfigMap", "theirs", owner="applyset-other-v1")], False, [], []),
        ([member("PersistentVolumeClaim", "data")], False, [], ["data"]),
        ([member("PersistentVolumeClaim", "data")], True, ["data"], []),
        ([member("Deployment", "kept", api_version="apps/v1")], False, [], []),
    ],
    ids=["removed-member", "not-a-member", "other-set", "claim-kept", "claim-pruned", "same-name-other-group"],
)
def test_prune_plan(live: list, prune_pvcs: bool, deleted: list, retained: list) -> None:
    desired = {("", "ConfigMap", "kept"), ("apps", "Deployment", "kept")}
    plan = plan_prune(live, desired, SET_ID, prune_pvcs)
    assert [b["metadata"]["name"] for b in plan.delete] == deleted
    assert [b["metadata"]["name"] for b in plan.retain] == retained


def test_claims_of_a_statefulset_are_found_by_the_controller_naming_rule() -> None:
    statefulset = {"metadata": {"name": "db"}, "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}}
    claims = [{"metadata": {"name": n}} for n in ("data-db-0", "data-db-1", "data-db-x", "data-dbx-0", "other-db-0")]
    assert statefulset_claim_names(statefulset, claims) == ["data-db-0", "data-db-1"]
