"""Stack membership the ApplySet way (KEP-3659), as kubectl implements it.

The parent is a Secret in the stack's namespace (kubectl's default parent
kind; a Secret because it also keeps the last good render, which holds the
stack's Secrets). It carries the label ``applyset.kubernetes.io/id`` and the
annotations ``tooling`` and ``contains-group-kinds``; every member carries
``applyset.kubernetes.io/part-of: <id>``. So ``kubectl get -l`` and
``kubectl apply --prune --applyset=secret/<parent>`` see the same set (kubectl
refuses to mutate a set whose tooling is not kubectl, as the KEP asks of
every tool, and so does this module the other way round).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import OwnershipError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import (
    ObjectKey,
    describe,
    object_key,
)

PARENT_ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
# Both in the parent's data, not its annotations: the render holds the stack's
# Secrets, and a Secret's data is what --diff and kubectl describe mask.
RENDER_HASH_KEY = "last-good-render.sha256"
LAST_GOOD_KEY = "last-good-render.json.gz"
# The compressed copy is kept only below this size, well under the 1 MiB limit
# of a whole object (etcd's request limit), with room for the metadata.
MAX_STORED_RENDER_BYTES = 512 * 1024

PARENT_API_VERSION = "v1"
PARENT_KIND = "Secret"
TOOLING_NAME = "orchestrator.k3s.stack"

# (group, kind), the ApplySet's unit of listing.
GroupKind = tuple[str, str]


def parent_name(stack: str) -> str:
    return f"stack-{stack}"


def applyset_id(name: str, namespace: str, kind: str = PARENT_KIND, group: str = "") -> str:
    """kubectl's ID: base64url(sha256("<name>.<namespace>.<kind>.<group>")) without padding."""
    digest = hashlib.sha256(".".join([name, namespace, kind, group]).encode("utf-8")).digest()
    return "applyset-" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=") + "-v1"


def format_group_kind(group_kind: GroupKind) -> str:
    """('apps', 'Deployment') -> 'Deployment.apps'; the core group -> 'Secret'."""
    group, kind = group_kind
    return f"{kind}.{group}" if group else kind


def parse_group_kinds(annotation: str | None) -> set[GroupKind]:
    kinds = set()
    for item in (annotation or "").split(","):
        item = item.strip()
        if item:
            kind, _dot, group = item.partition(".")
            kinds.add((group, kind))
    return kinds


def format_group_kinds(kinds: Iterable[GroupKind]) -> str:
    return ",".join(sorted(format_group_kind(gk) for gk in kinds))


def group_kind_of(body: dict[str, Any]) -> GroupKind:
    group, kind, _name = object_key(body)
    return group, kind


def tooling_value(version: str) -> str:
    return f"{TOOLING_NAME}/v{version}"


def check_parent(parent: dict[str, Any] | None, expected_id: str) -> None:
    """Refuse a parent made by another tool or for another set (as kubectl does)."""
    if parent is None:
        return
    metadata = parent.get("metadata", {})
    tooling = (metadata.get("annotations") or {}).get(TOOLING_ANNOTATION)
    where = describe(parent)
    if tooling is None:
        raise OwnershipError(
            f"{where} exists but is not an ApplySet parent (no {TOOLING_ANNOTATION} annotation); "
            "choose another stack name or delete it"
        )
    managed_by = tooling.rpartition("/")[0] if "/" in tooling else tooling
    if managed_by != TOOLING_NAME:
        raise OwnershipError(
            f"{where} is the ApplySet parent of tooling {managed_by!r}, not {TOOLING_NAME!r}; "
            "this module does not take over sets of other tools"
        )
    found_id = (metadata.get("labels") or {}).get(PARENT_ID_LABEL)
    if found_id != expected_id:
        raise OwnershipError(f"{where} has {PARENT_ID_LABEL}={found_id!r}, expected {expected_id!r}")


def adoption_problem(live: dict[str, Any] | None, set_id: str, adopt: bool) -> str | None:
    """Why an existing object may not join the set, or None when it may (or already is a member).

    Another ApplySet's member and an object a controller owns (ownerReferences)
    are never taken; any other existing object only when the user asks (adopt).
    """
    if live is None:
        return None
    metadata = live.get("metadata", {})
    owner = (metadata.get("labels") or {}).get(PART_OF_LABEL)
    if owner == set_id:
        return None
    if owner:
        return (
            f"{describe(live)} already belongs to another ApplySet ({owner}); two stacks cannot render the same object"
        )
    controllers = [r for r in metadata.get("ownerReferences") or [] if r.get("controller")]
    if controllers:
        ref = controllers[0]
        return f"{describe(live)} is controlled by {ref.get('kind')} {ref.get('name')}; the stack cannot take it over"
    if not adopt:
        return f"{describe(live)} exists and is not a member of this stack; set adopt=true to take it over"
    return None


def check_adoption(lives: Iterable[dict[str, Any]], set_id: str, adopt: bool) -> None:
    """Refuse, naming every one, existing objects the set may not take (before any write)."""
    problems = [p for p in (adoption_problem(live, set_id, adopt) for live in lives) if p]
    if problems:
        raise OwnershipError("\n".join(problems), object=problems[0].split(" ", 2)[1])


def render_digest(items: list[dict[str, Any]], context: Iterable[str] = ()) -> str:
    """sha256 of a render (and of what it was checked with: the Kubernetes version, the rules' revision)."""
    text = json.dumps([list(context), items], sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(text).hexdigest()


def encode_render(items: list[dict[str, Any]]) -> str | None:
    """base64 of the gzip JSON of a render, or None when it is too big to keep on the parent."""
    text = json.dumps(items, sort_keys=True, separators=(",", ":")).encode("utf-8")
    encoded = base64.b64encode(gzip.compress(text, mtime=0)).decode("ascii")
    return encoded if len(encoded) <= MAX_STORED_RENDER_BYTES else None


def stored_digest(parent: dict[str, Any] | None) -> str | None:
    value = ((parent or {}).get("data") or {}).get(RENDER_HASH_KEY)
    try:
        return base64.b64decode(value).decode("ascii") if value else None
    except (ValueError, UnicodeDecodeError):
        return None


def decode_render(parent: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    data = (parent or {}).get("data") or {}
    if LAST_GOOD_KEY not in data:
        return None
    return json.loads(gzip.decompress(base64.b64decode(data[LAST_GOOD_KEY])).decode("utf-8"))


def parent_body(
    stack: str,
    namespace: str,
    set_id: str,
    tooling: str,
    kinds: Iterable[GroupKind],
    render: tuple[str, str | None] | None,
) -> dict[str, Any]:
    """The parent as the module applies it; render = (digest, encoded copy or None) of the last good render."""
    annotations = {
        TOOLING_ANNOTATION: tooling,
        GROUP_KINDS_ANNOTATION: format_group_kinds(kinds),
        NAMESPACES_ANNOTATION: "",
    }
    body: dict[str, Any] = {
        "apiVersion": PARENT_API_VERSION,
        "kind": PARENT_KIND,
        "metadata": {
            "name": parent_name(stack),
            "namespace": namespace,
            "labels": {PARENT_ID_LABEL: set_id, "app.kubernetes.io/managed-by": TOOLING_NAME},
            "annotations": annotations,
        },
        "type": "Opaque",
    }
    if render is not None:
        body["data"] = {RENDER_HASH_KEY: base64.b64encode(render[0].encode("ascii")).decode("ascii")}
        if render[1] is not None:
            body["data"][LAST_GOOD_KEY] = render[1]
    return body


def parent_is_current(live: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    """True when applying `wanted` would not change the live parent (no write needed).

    The stored render is compared by its digest, never by its compressed bytes
    (another zlib may compress the same render differently).
    """
    if live is None:
        return False
    live_meta, wanted_meta = live.get("metadata", {}), wanted["metadata"]
    live_annotations = live_meta.get("annotations") or {}
    live_labels = live_meta.get("labels") or {}
    live_data, wanted_data = live.get("data") or {}, wanted.get("data") or {}
    return (
        all(live_annotations.get(k) == v for k, v in wanted_meta["annotations"].items())
        and _LEGACY_RENDER_HASH_ANNOTATION not in live_annotations
        and all(live_labels.get(k) == v for k, v in wanted_meta["labels"].items())
        and live_data.get(RENDER_HASH_KEY) == wanted_data.get(RENDER_HASH_KEY)
        and (LAST_GOOD_KEY in live_data) == (LAST_GOOD_KEY in wanted_data)
    )


# Where 0.1.0 kept the render's hash, visible to --diff: a parent that still has
# it is written once more, and server-side apply removes it.
_LEGACY_RENDER_HASH_ANNOTATION = "orchestrator.k3s/render-sha256"


@dataclass
class PrunePlan:
    """Members to delete, and PVCs kept (they hold data) but taken out of the set."""

    delete: list[dict[str, Any]] = field(default_factory=list)
    retain: list[dict[str, Any]] = field(default_factory=list)


def plan_prune(
    live_members: Iterable[dict[str, Any]],
    desired: Iterable[ObjectKey],
    set_id: str,
    prune_pvcs: bool,
) -> PrunePlan:
    """What pruning does to members the current render no longer has.

    Only objects labelled as members of *this* set are candidates, so an
    object made by hand (or by another stack) in the namespace is never touched.
    """
    wanted = set(desired)
    plan = PrunePlan()
    for live in live_members:
        labels = live.get("metadata", {}).get("labels") or {}
        if labels.get(PART_OF_LABEL) != set_id or object_key(live) in wanted:
            continue
        if live.get("kind") == "PersistentVolumeClaim" and not prune_pvcs:
            plan.retain.append(live)
        else:
            plan.delete.append(live)
    return plan


def statefulset_claim_names(statefulset: dict[str, Any], claims: Iterable[dict[str, Any]]) -> list[str]:
    """PVCs a StatefulSet's volumeClaimTemplates created: '<template>-<statefulset>-<ordinal>'."""
    sts_name = statefulset.get("metadata", {}).get("name", "")
    templates = [
        t.get("metadata", {}).get("name", "") for t in (statefulset.get("spec", {}).get("volumeClaimTemplates") or [])
    ]
    names = []
    for claim in claims:
        name = claim.get("metadata", {}).get("name", "")
        for template in templates:
            prefix = f"{template}-{sts_name}-"
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                names.append(name)
    return sorted(names)
