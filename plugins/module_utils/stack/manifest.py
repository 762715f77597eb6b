"""One rendered Kubernetes object and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# (group, kind, name): what identifies an object inside one namespace.
ObjectKey = tuple[str, str, str]


def api_group(api_version: str) -> str:
    """'apps/v1' -> 'apps'; the core group 'v1' -> ''."""
    return api_version.rpartition("/")[0]


def object_key(body: dict[str, Any]) -> ObjectKey:
    return (
        api_group(body.get("apiVersion", "")),
        body.get("kind", ""),
        body.get("metadata", {}).get("name", ""),
    )


def describe(body: dict[str, Any]) -> str:
    """'Deployment dev/vote': how messages name an object."""
    metadata = body.get("metadata", {})
    namespace = metadata.get("namespace")
    name = metadata.get("name", "<unnamed>")
    return f"{body.get('kind', '<no kind>')} {namespace + '/' if namespace else ''}{name}"


@dataclass
class Manifest:
    """A rendered object, the component that produced it and its template file."""

    component: str
    source: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.body.get("kind", "")

    @property
    def api_version(self) -> str:
        return self.body.get("apiVersion", "")

    @property
    def name(self) -> str:
        return self.body.get("metadata", {}).get("name", "")

    @property
    def namespace(self) -> str | None:
        return self.body.get("metadata", {}).get("namespace")

    @property
    def key(self) -> ObjectKey:
        return object_key(self.body)

    def describe(self) -> str:
        return describe(self.body)

    def where(self) -> str:
        """'stacks/vote/vote.yaml.j2: Deployment dev/vote', the prefix of every message about it."""
        return f"{self.source}: {self.describe()}"


# Workloads whose replica count an HorizontalPodAutoscaler may own (those with a scale subresource that a stack
# renders): the one definition the validation rules and the apply both use.
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})

# Kinds that live outside any namespace. A stack owns one namespace, so its
# templates may not render these (validate.py says so); render.py leaves their
# metadata.namespace alone.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingWebhookConfiguration",
    }
)


def plain_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_copy(item) for item in value]
    return value  # str, int, float, bool, None and YAML's dates are immutable
