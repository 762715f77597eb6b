"""order.py: dependencies first when applying, the reverse when deleting."""

from __future__ import annotations

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.order import (
    body_kind,
    kind_rank,
    sort_for_apply,
    sort_for_delete,
)


def bodies(*kinds: str) -> list[dict]:
    return [{"kind": kind, "metadata": {"name": f"{kind.lower()}-{i}"}} for i, kind in enumerate(kinds)]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("Namespace", "ResourceQuota"),
        ("ResourceQuota", "ServiceAccount"),
        ("ServiceAccount", "RoleBinding"),
        ("RoleBinding", "Secret"),
        ("Secret", "ConfigMap"),
        ("ConfigMap", "PersistentVolumeClaim"),
        ("PersistentVolumeClaim", "Service"),
        ("Service", "Deployment"),
        ("Deployment", "StatefulSet"),
        ("StatefulSet", "HorizontalPodAutoscaler"),
        ("HorizontalPodAutoscaler", "Ingress"),
        ("Ingress", "NetworkPolicy"),
        ("NetworkPolicy", "IngressRoute"),
    ],
)
def test_kind_order(earlier: str, later: str) -> None:
    assert kind_rank(earlier) < kind_rank(later)


def test_apply_order_is_stable_within_a_kind_and_unknown_kinds_go_last() -> None:
    items = bodies("NetworkPolicy", "Deployment", "Middleware", "Secret", "Deployment", "Namespace")
    ordered = [b["metadata"]["name"] for b in sort_for_apply(items, body_kind)]
    assert ordered == ["namespace-5", "secret-3", "deployment-1", "deployment-4", "networkpolicy-0", "middleware-2"]


def test_delete_order_is_the_reverse_kind_order() -> None:
    items = bodies("Secret", "Deployment", "NetworkPolicy", "PersistentVolumeClaim")
    assert [b["kind"] for b in sort_for_delete(items, body_kind)] == [
        "NetworkPolicy",
        "Deployment",
        "PersistentVolumeClaim",
        "Secret",
    ]
