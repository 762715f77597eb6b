"""apply.py: the body sent with server-side apply, and when no write is needed at all."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.apply import (
    COMPONENT_ANNOTATION,
    HASH_ANNOTATION,
    desired_body,
    drop_autoscaled_replicas,
    is_subset,
    is_unchanged,
    replicas_handover,
    string_data_as_data,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import PART_OF_LABEL
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import Manifest

SET_ID = "applyset-test-v1"


def workload(kind: str, name: str, replicas: int = 2) -> Manifest:
    return Manifest(
        name,
        f"{name}.yaml.j2",
        {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": {"replicas": replicas}},
    )


def autoscaler(kind: str, name: str) -> Manifest:
    return Manifest(
        name,
        f"{name}.yaml.j2",
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"kind": kind, "name": name}},
        },
    )


def test_replicas_are_left_to_the_hpa_that_scales_the_workload() -> None:
    manifests = [
        workload("Deployment", "api"),
        workload("Deployment", "web"),
        workload("StatefulSet", "api"),
        autoscaler("Deployment", "api"),
    ]
    drop_autoscaled_replicas(manifests)
    assert ["replicas" in m.body["spec"] for m in manifests[:3]] == [False, True, True]


def test_string_data_is_applied_as_data() -> None:
    body = {
        "kind": "Secret",
        "stringData": {"password": "pw"},  # pragma: allowlist secret (placeholder)
        "data": {"other": "eA=="},
    }
    assert string_data_as_data(body) == {
        "kind": "Secret",
        "data": {"other": "eA==", "password": base64.b64encode(b"pw").decode()},
    }
    assert "stringData" in body  # the input is not modified
    configmap = {"kind": "ConfigMap", "data": {"a": "b"}}
    assert string_data_as_data(configmap) is configmap


def test_members_carry_the_set_label_their_component_and_a_hash_of_the_body() -> None:
    manifest = Manifest(
        "web", "web.yaml.j2", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}, "data": {"a": "1"}}
    )
    body = desired_body(manifest, SET_ID)
    assert body["metadata"]["labels"][PART_OF_LABEL] == SET_ID
    assert body["metadata"]["annotations"][COMPONENT_ANNOTATION] == "web"
    assert (
        body["metadata"]["annotations"][HASH_ANNOTATION]
        == desired_body(manifest, SET_ID)["metadata"]["annotations"][HASH_ANNOTATION]
    )
    assert "labels" not in manifest.body["metadata"]
    changed = copy.deepcopy(manifest)
    changed.body["data"]["a"] = "2"
    assert (
        desired_body(changed, SET_ID)["metadata"]["annotations"][HASH_ANNOTATION]
        != body["metadata"]["annotations"][HASH_ANNOTATION]
    )
    # Re-preparing a prepared body (a rollback of a stored render) gives the same hash.
    again = desired_body(Manifest("web", "x", body), SET_ID)
    assert again == body


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": {"b": "x"}}, {"a": {"b": "x", "c": "server default"}}, True),
        ({"cpu": "0.5"}, {"cpu": "500m"}, True),
        ({"memory": "1Gi"}, {"memory": "1024Mi"}, True),
        ({"memory": "1G"}, {"memory": "1Gi"}, False),
        ({"port": 80}, {"port": "80"}, True),
        ({"flag": True}, {"flag": 1}, False),
        ({"hostNetwork": False, "note": "", "items": [], "opts": {}}, {}, True),
        ({"emptyDir": {}}, {"emptyDir": {}}, True),
        ({"args": ["a", "b"]}, {"args": ["b", "a"]}, False),
        ({"args": ["a"]}, {"args": ["a", "b"]}, False),
        (
            {"env": [{"name": "A", "value": "1"}]},
            {"env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
            True,
        ),
        ({"env": [{"name": "A", "value": "1"}]}, {"env": [{"name": "A", "value": "2"}, {"name": "B"}]}, False),
        ({"ports": [{"port": 80}]}, {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}, True),
        ({"a": "x"}, {}, False),
    ],
)
def test_subset(desired: Any, live: Any, expected: bool) -> None:
    assert is_subset(desired, live) is expected


def prepared() -> dict[str, Any]:
    return desired_body(
        Manifest(
            "web",
            "web.yaml.j2",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}, "data": {"a": "1"}},
        ),
        SET_ID,
    )


def live_copy(body: dict[str, Any]) -> dict[str, Any]:
    live = copy.deepcopy(body)
    live["metadata"].update({"uid": "u", "resourceVersion": "3", "managedFields": []})
    return live


def test_an_object_is_unchanged_when_its_hash_and_every_field_match() -> None:
    body = prepared()
    assert is_unchanged(body, live_copy(body))
    assert not is_unchanged(body, None)


def test_a_render_change_is_seen_even_when_the_live_object_still_holds_every_field() -> None:
    # A field removed from the template is still live, so only the hash tells.
    body = prepared()
    live = live_copy(body)
    live["metadata"]["annotations"][HASH_ANNOTATION] = "an older render"
    assert not is_unchanged(body, live)


def test_drift_by_hand_is_seen_although_the_hash_matches() -> None:
    body = prepared()
    live = live_copy(body)
    live["data"]["a"] = "edited with kubectl"
    assert not is_unchanged(body, live)


def secret(password: str) -> Manifest:
    return Manifest("db", "db.yaml.j2", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                                         "stringData": {"password": password}})  # fmt: skip


def test_a_secrets_hash_annotation_says_nothing_about_its_values() -> None:
    """2g: the annotation is shown by --diff; an unsalted hash of a password would let anyone test guesses."""
    one, two = desired_body(secret("first-value"), "set"), desired_body(secret("second-value"), "set")
    assert one["metadata"]["annotations"][HASH_ANNOTATION] == two["metadata"]["annotations"][HASH_ANNOTATION]
    assert one["data"] != two["data"]
    assert not is_unchanged(two, one)  # a changed value is still applied: the values are compared one by one


def live_workload(managers: list[dict[str, Any]], replicas: int = 3) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "dev", "managedFields": managers},
            "spec": {"replicas": replicas}}  # fmt: skip


OURS_WITH_REPLICAS = {"manager": "orchestrator.k3s.stack", "operation": "Apply",
                      "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}}}  # fmt: skip


def test_replicas_are_handed_over_only_when_the_module_owned_them_and_stops_setting_them() -> None:
    """2b: SSA deletes a field its only manager drops; a hand-over apply keeps it at the live value."""
    without = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {}}
    handover = replicas_handover(without, live_workload([OURS_WITH_REPLICAS], 3), "orchestrator.k3s.stack")
    assert handover == {"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "web", "namespace": "dev"}, "spec": {"replicas": 3}}  # fmt: skip
    still_set = {**without, "spec": {"replicas": 2}}
    assert replicas_handover(still_set, live_workload([OURS_WITH_REPLICAS]), "orchestrator.k3s.stack") is None
    hpa_owned = {"manager": "kube-controller-manager", "operation": "Update",
                 "fieldsV1": {"f:spec": {"f:replicas": {}}}}  # fmt: skip
    assert replicas_handover(without, live_workload([hpa_owned]), "orchestrator.k3s.stack") is None
    assert replicas_handover(without, None, "orchestrator.k3s.stack") is None
