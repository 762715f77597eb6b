"""The order objects are applied in, and the reverse for deletion.

Dependencies first: a Pod that starts before its Secret, ConfigMap, claim or
ServiceAccount exists fails; what refers to a workload (HPA, Ingress) and the
NetworkPolicies, which deny what they do not allow, come with or after it.
Kinds not listed (custom resources) come after the known ones, in the order
they were rendered.

Objects of one tier are applied at once, the tiers one after another: nothing
in a tier needs another object of the same tier to exist first (a
RoleBinding may name a Role created in the same moment; an HPA or an Ingress
may name a workload that appears a moment later; a NetworkPolicy selects pods
by label, and a new workload's pods are scheduled well after it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

APPLY_TIERS = (
    ("Namespace",),
    (
        "ResourceQuota",
        "LimitRange",
        "PriorityClass",
        "ServiceAccount",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "Secret",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Service",
        "PodDisruptionBudget",
    ),
    (
        "DaemonSet",
        "Pod",
        "ReplicaSet",
        "Deployment",
        "StatefulSet",
        "Job",
        "CronJob",
        "HorizontalPodAutoscaler",
        "IngressClass",
        "Ingress",
        "NetworkPolicy",
    ),
)
APPLY_ORDER = tuple(kind for tier in APPLY_TIERS for kind in tier)
_RANK = {kind: rank for rank, kind in enumerate(APPLY_ORDER)}
_TIER = {kind: tier for tier, kinds in enumerate(APPLY_TIERS) for kind in kinds}


def kind_rank(kind: str) -> int:
    return _RANK.get(kind, len(APPLY_ORDER))


def apply_tier(kind: str) -> int:
    """Kinds not listed (custom resources) get a tier of their own, after the others."""
    return _TIER.get(kind, len(APPLY_TIERS))


def sort_for_apply(items: Iterable[T], kind_of: Callable[[T], str]) -> list[T]:
    """Stable: objects of one kind keep their rendered order."""
    return sorted(items, key=lambda item: kind_rank(kind_of(item)))


def sort_for_delete(items: Iterable[T], kind_of: Callable[[T], str]) -> list[T]:
    """Reverse kind order: the workloads go before the Secrets and claims they use."""
    return sorted(items, key=lambda item: -kind_rank(kind_of(item)))


def body_kind(body: dict[str, Any]) -> str:
    return body.get("kind", "")
