"""applyset.py: KEP-3659 membership as kubectl computes and reads it, and what pruning may touch."""

from __future__ import annotations

import base64
import gzip
import json
import os
from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (
    GROUP_KINDS_ANNOTATION,
    PARENT_ID_LABEL,
    PART_OF_LABEL,
    RENDER_HASH_KEY,
    TOOLING_ANNOTATION,
    adoption_problem,
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
    render_digest,
    statefulset_claim_names,
    stored_digest,
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


def controlled(body: dict[str, Any]) -> dict[str, Any]:
    body["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-5d9c7", "controller": True, "uid": "u"}]
    return body


@pytest.mark.parametrize(
    ("live", "adopt", "refusal"),
    [
        (None, False, None),
        (member("ConfigMap", "mine"), False, None),
        (member("ConfigMap", "handmade", owner=None), False, "is not a member of this stack; set adopt=true"),
        (member("ConfigMap", "handmade", owner=None), True, None),
        (member("ConfigMap", "theirs", owner="applyset-other-v1"), True, "already belongs to another ApplySet"),
        (controlled(member("Pod", "web-5d9c7-x", owner=None)), True, "is controlled by ReplicaSet web-5d9c7"),
    ],
    ids=["absent", "member", "handmade", "handmade-adopted", "other-set", "controller-owned"],
)
def test_an_existing_object_joins_the_set_only_when_it_may(live: Any, adopt: bool, refusal: str | None) -> None:
    if refusal is None:
        assert adoption_problem(live, SET_ID, adopt) is None
        check_adoption([live] if live else [], SET_ID, adopt)
    else:
        with pytest.raises(OwnershipError, match=refusal):
            check_adoption([live], SET_ID, adopt)


def test_every_refused_object_is_named_in_one_message() -> None:
    with pytest.raises(OwnershipError) as error:
        check_adoption([member("ConfigMap", "a", owner=None), member("Secret", "b", owner=None)], SET_ID, False)
    assert "ConfigMap dev/a" in error.value.message and "Secret dev/b" in error.value.message


def test_the_render_is_stored_compressed_and_identically_for_equal_input() -> None:
    render = [{"component": "web", "body": {"kind": "ConfigMap", "data": {"k": "v" * 5000}}}]
    encoded = encode_render(render)
    assert encoded == encode_render(render) and render_digest(render) == render_digest(render)
    assert len(encoded) < 1000
    assert decode_render({"data": {"last-good-render.json.gz": encoded}}) == render
    assert decode_render(None) is None
    assert render_digest(render, ["kubernetes 1.34"]) != render_digest(render, ["kubernetes 1.33"])


def test_a_render_too_big_for_the_parent_is_not_kept() -> None:
    noise = base64.b64encode(os.urandom(600 * 1024)).decode("ascii")  # incompressible
    assert encode_render([{"component": "big", "body": {"kind": "ConfigMap", "data": {"k": noise}}}]) is None
    body = parent_body("demo", "dev", SET_ID, "orchestrator.k3s.stack/v0.1.0", set(), ("d", None))
    assert list(body["data"]) == [RENDER_HASH_KEY]


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
    other_render = parent_body(
        "demo", "dev", SET_ID, "orchestrator.k3s.stack/v0.1.0", {("apps", "Deployment")}, ("h2", "ZGF0YQ==")
    )
    assert not parent_is_current(live, other_render)


def test_the_parent_does_not_change_with_the_compressed_bytes_only() -> None:
    """Another zlib compresses the same render differently: same digest, so no write (and changed=false)."""
    render = [{"component": "web", "body": {"kind": "ConfigMap", "data": {"k": "v"}}}]
    text = json.dumps(render, sort_keys=True, separators=(",", ":")).encode("utf-8")
    recompressed = base64.b64encode(gzip.compress(text, compresslevel=1, mtime=12345)).decode("ascii")
    ours = encode_render(render)
    assert recompressed != ours
    digest = render_digest(render)
    tooling = "orchestrator.k3s.stack/v0.1.0"
    live = parent_body("demo", "dev", SET_ID, tooling, set(), (digest, recompressed))
    assert parent_is_current(live, parent_body("demo", "dev", SET_ID, tooling, set(), (digest, ours)))


def test_the_render_digest_is_in_the_parents_data_not_in_an_annotation() -> None:
    """--diff shows annotations; the render holds the stack's Secrets, so its digest goes where values are masked."""
    body = parent_body("demo", "dev", SET_ID, "orchestrator.k3s.stack/v0.1.0", set(), ("abc", "ZGF0YQ=="))
    assert stored_digest(body) == "abc"
    assert not [v for v in body["metadata"]["annotations"].values() if "abc" in v]


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
