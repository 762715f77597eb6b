"""What the module sends with server-side apply, and how it knows a write is not needed.

Each member is applied with a fixed field manager and carries the ApplySet
label and a hash of its desired body (of a Secret: of its keys only, since
the annotation is shown by ``--diff`` and an unsalted hash of a password is
a way to test guesses of it). An object is *unchanged*, and is not
written at all, when the live object (fetched with one LIST per kind) has
the same hash **and** still holds every field the stack sets with the same
value. The hash catches changes to the render (a field removed from a
template); the comparison catches drift (someone ran ``kubectl edit``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import PART_OF_LABEL
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import (
    SCALABLE_KINDS,
    Manifest,
    plain_copy,
)

HASH_ANNOTATION = "orchestrator.k3s/applied-sha256"
# Which template made a member: prune and delete report it after the template is gone.
COMPONENT_ANNOTATION = "orchestrator.k3s/component"
# The field manager that holds spec.replicas for the moment between the module
# letting go of it and the HorizontalPodAutoscaler writing it (Kubernetes docs,
# server-side apply, "transferring ownership").
HANDOVER_FIELD_MANAGER = "orchestrator.k3s.stack-handover"

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")
_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def autoscaled_workloads(manifests: Iterable[Manifest]) -> set[tuple[str, str]]:
    """(kind, name) of every workload an HPA of the stack scales."""
    targets = set()
    for manifest in manifests:
        if manifest.kind == "HorizontalPodAutoscaler":
            ref = manifest.body.get("spec", {}).get("scaleTargetRef") or {}
            targets.add((ref.get("kind", ""), ref.get("name", "")))
    return targets


def drop_autoscaled_replicas(manifests: list[Manifest]) -> None:
    """Leave spec.replicas to the HPA: applying it would fight the autoscaler (and conflict under SSA)."""
    targets = autoscaled_workloads(manifests)
    for manifest in manifests:
        if manifest.kind in SCALABLE_KINDS and (manifest.kind, manifest.name) in targets:
            manifest.body.get("spec", {}).pop("replicas", None)


def body_hash(body: dict[str, Any]) -> str:
    """sha256 of the body; of a Secret, with its values left out (they are compared one by one instead)."""
    if body.get("kind") == "Secret":
        body = {**body, **{f: dict.fromkeys(body[f] or {}, "") for f in ("data", "stringData") if f in body}}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def owns_replicas(live: dict[str, Any] | None, field_manager: str) -> bool:
    """Whether `field_manager` holds spec.replicas of the live object by an apply."""
    for entry in (live or {}).get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == field_manager and entry.get("operation") == "Apply":
            if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
                return True
    return False


def replicas_handover(
    desired: dict[str, Any], live: dict[str, Any] | None, field_manager: str
) -> dict[str, Any] | None:
    """The apply that keeps spec.replicas at its live value when the module stops setting it.

    Without it, server-side apply deletes a field its only manager no longer
    sends: the workload falls to one replica until the autoscaler scales it up
    again. Applied first by HANDOVER_FIELD_MANAGER, the field stays (at the live
    value) until the autoscaler takes it over.
    """
    if desired.get("kind") not in SCALABLE_KINDS or "replicas" in (desired.get("spec") or {}):
        return None
    if not owns_replicas(live, field_manager):
        return None
    metadata = live["metadata"]
    return {
        "apiVersion": desired["apiVersion"],
        "kind": desired["kind"],
        "metadata": {"name": metadata["name"], "namespace": metadata.get("namespace")},
        "spec": {"replicas": (live.get("spec") or {}).get("replicas", 1)},
    }


def string_data_as_data(body: dict[str, Any]) -> dict[str, Any]:
    """Secrets with stringData become data: the API stores only data, so compare and apply that."""
    if body.get("kind") != "Secret" or not body.get("stringData"):
        return body
    body = plain_copy(body)
    data = body.setdefault("data", {})
    for key, value in body.pop("stringData").items():
        data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
    return body


def desired_body(manifest: Manifest, set_id: str) -> dict[str, Any]:
    """The body to apply: normalised, labelled as a member, stamped with its hash."""
    body = string_data_as_data(plain_copy(manifest.body))
    metadata = body.setdefault("metadata", {})
    metadata.setdefault("labels", {})[PART_OF_LABEL] = set_id
    annotations = metadata.setdefault("annotations", {})
    annotations[COMPONENT_ANNOTATION] = manifest.component
    annotations.pop(HASH_ANNOTATION, None)
    annotations[HASH_ANNOTATION] = body_hash(body)
    return body


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIX[suffix]
    except (InvalidOperation, KeyError):
        return None


def _scalar_equal(desired: Any, live: Any) -> bool:
    if desired == live and type(desired) is type(live):
        return True
    # The API server canonicalises quantities ("0.5" -> "500m") and int-or-string ports.
    left, right = _quantity(desired), _quantity(live)
    return left is not None and left == right


def _empty(value: Any) -> bool:
    # The API omits zero values of optional fields, so "not there" equals "", 0, false, [] or {}.
    return value is None or value == "" or value is False or value == 0 or value == [] or value == {}


def is_subset(desired: Any, live: Any) -> bool:
    """Every field of `desired` is in `live` with an equal value (live may hold more)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return _empty(desired) and _empty(live)
        return all(_empty(value) if key not in live else is_subset(value, live[key]) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list):
            return _empty(desired) and _empty(live)
        if len(desired) == len(live):
            return all(is_subset(d, item) for d, item in zip(desired, live))  # noqa: B905 - equal lengths checked above; strict= needs 3.10
        if any(not isinstance(d, dict) for d in desired):
            return False
        # Another manager added items to a merged list (an env var, a port): ours must all be there.
        return all(any(is_subset(d, item) for item in live) for d in desired)
    if live is None:
        return _empty(desired)
    return _scalar_equal(desired, live)


def is_unchanged(desired: dict[str, Any], live: dict[str, Any] | None) -> bool:
    if live is None:
        return False
    live_annotations = live.get("metadata", {}).get("annotations") or {}
    wanted_hash = desired.get("metadata", {}).get("annotations", {}).get(HASH_ANNOTATION)
    return live_annotations.get(HASH_ANNOTATION) == wanted_hash and is_subset(desired, live)
