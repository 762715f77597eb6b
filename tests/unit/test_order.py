"""order.py: dependencies first when applying, the reverse when deleting."""

from __future__ import annotations

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.order import (
    APPLY_ORDER,
    apply_tier,
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


@pytest.mark.parametrize(
    ("kinds", "tiers"),
    [
        # what a workload needs, then the workloads with what names them, then custom kinds
        (("Namespace", "Secret", "ConfigMap", "Service"), (0, 1, 1, 1)),
        (("Deployment", "StatefulSet", "HorizontalPodAutoscaler", "Ingress", "NetworkPolicy"), (2, 2, 2, 2, 2)),
        (("IngressRoute", "Middleware"), (3, 3)),
    ],
)
def test_apply_tiers(kinds: tuple[str, ...], tiers: tuple[int, ...]) -> None:
    assert tuple(apply_tier(kind) for kind in kinds) == tiers


def test_tiers_follow_the_apply_order() -> None:
    kinds = [*APPLY_ORDER, "IngressRoute"]
    assert [apply_tier(k) for k in kinds] == sorted(apply_tier(k) for k in kinds)
