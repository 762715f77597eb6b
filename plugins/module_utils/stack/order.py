"""The order objects are applied in, and the reverse for deletion.

Dependencies first: a Pod that starts before its Secret, ConfigMap or claim
exists fails; a NetworkPolicy that denies traffic goes last, once everything
it allows is in place. Kinds not listed (custom resources) come after the
known ones, in the order they were rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

APPLY_ORDER = (
    "Namespace",
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
)
_RANK = {kind: rank for rank, kind in enumerate(APPLY_ORDER)}


def kind_rank(kind: str) -> int:
    return _RANK.get(kind, len(APPLY_ORDER))


def sort_for_apply(items: Iterable[T], kind_of: Callable[[T], str]) -> list[T]:
    """Stable: objects of one kind keep their rendered order."""
    return sorted(items, key=lambda item: kind_rank(kind_of(item)))


def sort_for_delete(items: Iterable[T], kind_of: Callable[[T], str]) -> list[T]:
    """Reverse kind order: the workloads go before the Secrets and claims they use."""
    return sorted(items, key=lambda item: -kind_rank(kind_of(item)))


def body_kind(body: dict[str, Any]) -> str:
    return body.get("kind", "")
