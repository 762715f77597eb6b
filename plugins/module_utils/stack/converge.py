"""state=present: bring one stack to its render (apply, wait), then prune and record it on the parent.

Order of a run:

1. read the namespace, the ApplySet parent and the members (label-selected
   lists, one per kind) in one concurrent round (read_state);
2. refuse a foreign parent, and existing objects the set may not take
   (another set's, a controller's, or any non-member without adopt=true),
   before any write;
3. create the namespace (its Pod Security labels only when created, or when
   namespace_labels is given); widen the parent's kind list to old + new
   (KEP-3659: an interrupted run then leaks nothing);
4. apply what differs with server-side apply, tier after tier (order.py),
   handing spec.replicas over first where an HPA takes it;
5. wait for every workload at once;
6. prune members the render no longer has (only after 4 and 5 succeeded);
7. record the kinds and the last good render on the parent.

When the parent's render digest equals this render's and every member is
unchanged, steps 3-7 send nothing: a run with nothing to do costs the one
round of reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.apply import (
    HANDOVER_FIELD_MANAGER,
    desired_body,
    is_subset,
    is_unchanged,
    replicas_handover,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (
    GROUP_KINDS_ANNOTATION,
    LAST_GOOD_KEY,
    PART_OF_LABEL,
    GroupKind,
    check_adoption,
    check_parent,
    group_kind_of,
    parent_body,
    parent_is_current,
    parse_group_kinds,
    stored_digest,
    tooling_value,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cluster import Cluster, concurrently, first_error
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import StackError, WaitError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import Manifest, ObjectKey, object_key
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.order import apply_tier, sort_for_apply
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.prune import prune
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.run import PARENT_COMPONENT, StackRun
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.waiter import Waiter

# The Pod Security labels of a namespace the module creates, unless namespace_labels says otherwise.
RESTRICTED_NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


@dataclass
class LiveState:
    """What the cluster holds for one stack, read before anything is written."""

    namespace: dict[str, Any] | None
    parent: dict[str, Any] | None
    members: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)

    @property
    def old_kinds(self) -> set[GroupKind]:
        annotations = (self.parent or {}).get("metadata", {}).get("annotations") or {}
        return parse_group_kinds(annotations.get(GROUP_KINDS_ANNOTATION))

    @property
    def digest(self) -> str | None:
        return stored_digest(self.parent)


@dataclass
class Render:
    """The stack's rendered manifests, their digest and the copy kept for a rollback (None: too big)."""

    manifests: list[Manifest]
    digest: str
    encoded: str | None


def list_members(run: StackRun, cluster: Cluster, specs: list[tuple[str, str]]) -> list[Callable[[], Any]]:
    selector = f"{PART_OF_LABEL}={run.set_id}"
    return [lambda spec=spec: cluster.list(spec[0], spec[1], run.namespace, selector) for spec in specs]


def read_state(run: StackRun, cluster: Cluster, manifests: list[Manifest]) -> LiveState:
    """The namespace, the parent and the members of the rendered kinds in one round; members of kinds
    the render dropped (known from the parent) in a second one, only when there are such kinds."""
    kinds = sorted({(m.api_version, m.kind) for m in manifests})
    reads: list[Callable[[], Any]] = [
        lambda: cluster.get("v1", "Namespace", run.namespace, None),
        lambda: cluster.get("v1", "Secret", run.parent, run.namespace),
        *list_members(run, cluster, kinds),
    ]
    outcomes = concurrently(lambda read: read(), reads)
    first_error(outcomes)
    state = LiveState(outcomes[0][0], outcomes[1][0])
    if state.namespace is None:
        return state
    lists = [items for items, _error in outcomes[2:]]
    rendered = {(m.api_version.rpartition("/")[0], m.kind) for m in manifests}
    dropped = []
    for group, kind in sorted(state.old_kinds - rendered):
        resource = cluster.resource_for_group_kind(group, kind)
        if resource is None:
            run.warnings.append(f"the parent lists {kind}.{group} but the API server no longer serves it")
        else:
            dropped.append((resource.group_version, kind))
    if dropped:
        outcomes = concurrently(lambda read: read(), list_members(run, cluster, dropped))
        first_error(outcomes)
        lists += [items for items, _error in outcomes]
    state.members = {object_key(item): item for items in lists for item in items or []}
    return state


def present(run: StackRun, cluster: Cluster, render: Render, state: LiveState) -> None:
    """Converge the stack; with rollback_on_failure, a failed apply or wait restores the last good render."""
    check_parent(state.parent, run.set_id)
    desired = [(m, desired_body(m, run.set_id)) for m in sort_for_apply(render.manifests, lambda m: m.kind)]
    outsiders = take_outsiders(run, cluster, [body for _m, body in desired], state)
    namespace_exists = ensure_namespace(run, cluster, state.namespace)
    live = {**outsiders, **state.members}
    parent = widen_parent(run, cluster, state, desired, namespace_exists)
    try:
        apply_and_wait(run, cluster, desired, live, namespace_exists)
    except StackError as error:
        if run.params["rollback_on_failure"] and not run.check_mode:
            from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.rollback import rollback

            rollback(run, cluster, error, state.parent)
        raise
    finish(run, cluster, desired, state, parent, (render.digest, render.encoded), namespace_exists)


def take_outsiders(
    run: StackRun, cluster: Cluster, bodies: list[dict[str, Any]], state: LiveState
) -> dict[ObjectKey, dict[str, Any]]:
    """Existing objects the render names that are not members yet: refused, or taken with adopt=true."""
    if state.namespace is None:
        return {}
    missing = [body for body in bodies if object_key(body) not in state.members]
    outcomes = concurrently(
        lambda b: cluster.get(b["apiVersion"], b["kind"], b["metadata"]["name"], run.namespace), missing
    )
    first_error(outcomes)
    found = [live for live, _error in outcomes if live is not None]
    check_adoption(found, run.set_id, run.params.get("adopt", False))
    return {object_key(live): live for live in found}


def ensure_namespace(run: StackRun, cluster: Cluster, live: dict[str, Any] | None) -> bool:
    """Create the namespace or, when asked, label it; True when it exists on the server (not only in a dry run).

    An existing namespace is someone's: its labels change only when namespace_labels is given.
    """
    labels = run.params.get("namespace_labels")
    if live is None and not run.params["create_namespace"]:
        raise StackError(f"namespace {run.namespace} does not exist and create_namespace is false")
    if live is not None and labels is None:
        return True
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": run.namespace,
            "labels": dict(RESTRICTED_NAMESPACE_LABELS if labels is None else labels),
        },
    }
    if live is not None and is_subset(body, live):
        return True
    applied = cluster.apply(body)
    run.record(body, "created" if live is None else "configured", None, before=live, after=applied)
    return live is not None or not run.check_mode


def widen_parent(
    run: StackRun,
    cluster: Cluster,
    state: LiveState,
    desired: list[tuple[Manifest, dict[str, Any]]],
    namespace_exists: bool,
) -> dict[str, Any] | None:
    """Before any member is written, the parent lists old and new kinds and still holds the last good render."""
    kinds = {group_kind_of(body) for _m, body in desired} | state.old_kinds
    data = (state.parent or {}).get("data") or {}
    previous = (state.digest, data.get(LAST_GOOD_KEY)) if state.digest else None
    return apply_parent(run, cluster, state.parent, kinds, previous, namespace_exists)


def apply_and_wait(
    run: StackRun,
    cluster: Cluster,
    desired: list[tuple[Manifest, dict[str, Any]]],
    live: dict[ObjectKey, dict[str, Any]],
    namespace_exists: bool,
) -> None:
    for _tier, group in groupby(desired, key=lambda pair: apply_tier(pair[0].kind)):
        apply_group(run, cluster, list(group), live, namespace_exists)
    if not run.params["wait"] or run.check_mode:
        return
    waiter = Waiter(cluster, run.namespace, f"{PART_OF_LABEL}={run.set_id}", interval=run.params["wait_sleep"])
    written = {(o["kind"], o["name"]) for o in run.objects if o["action"] != "unchanged"}
    listed = {(key[1], key[2]): obj for key, obj in live.items() if (key[1], key[2]) not in written}
    try:
        run.workloads = waiter.wait([body for _m, body in desired], run.params["wait_timeout"], listed)
    except WaitError as error:
        first = error.details["not_ready"][0]
        error.details.setdefault("object", {k: first[k] for k in ("kind", "name", "namespace")})
        error.details.setdefault("reason", first["reason"])
        raise


def apply_group(
    run: StackRun,
    cluster: Cluster,
    group: list[tuple[Manifest, dict[str, Any]]],
    live: dict[ObjectKey, dict[str, Any]],
    namespace_exists: bool,
) -> None:
    """Apply what differs among the objects of one tier, concurrently; record each outcome."""
    todo = []
    for manifest, body in group:
        current = live.get(object_key(body))
        if is_unchanged(body, current):
            run.record(body, "unchanged", manifest.component)
        else:
            todo.append((manifest, body, current))

    def write(item: tuple[Manifest, dict[str, Any], dict[str, Any] | None]) -> dict[str, Any]:
        _manifest, body, current = item
        # A dry run cannot create objects in a namespace that itself exists only in the dry run.
        if not namespace_exists:
            return body
        handover = replicas_handover(body, current, cluster.field_manager)
        if handover is not None:
            cluster.apply(handover, field_manager=HANDOVER_FIELD_MANAGER)
        # An object adopt=true takes over (take_outsiders let it through): its fields are the stack's from now on,
        # also those its maker's field manager held (a kubectl create, another tool), which would conflict.
        return cluster.apply(body, force=current is not None and not run.is_member(current))

    outcomes = concurrently(write, todo)
    for (manifest, body, current), (applied, error) in zip(todo, outcomes):  # noqa: B905 - one outcome per item; strict= needs 3.10
        if error is None:
            action = "created" if current is None else "configured"
            run.record(body, action, manifest.component, before=current, after=applied)
    first_error(outcomes)


def finish(
    run: StackRun,
    cluster: Cluster,
    desired: list[tuple[Manifest, dict[str, Any]]],
    state: LiveState,
    parent: dict[str, Any] | None,
    render: tuple[str, str | None],
    namespace_exists: bool,
) -> None:
    """Prune what the render no longer has, then record its kinds and the render itself on the parent."""
    new_kinds = {group_kind_of(body) for _m, body in desired}
    kinds = new_kinds
    if run.params["prune"]:
        wanted = {object_key(body) for _m, body in desired}
        prune(run, cluster, [o for o in state.members.values() if run.is_member(o)], wanted)
    else:
        kinds = new_kinds | state.old_kinds
    if render[1] is None:
        run.warnings.append(
            f"{run}: the render is too big to keep on the ApplySet parent; rollback_on_failure cannot restore it"
        )
    apply_parent(run, cluster, parent, kinds, render, namespace_exists)


def apply_parent(
    run: StackRun,
    cluster: Cluster,
    parent_live: dict[str, Any] | None,
    kinds: set[GroupKind],
    render: tuple[str, str | None] | None,
    namespace_exists: bool,
) -> dict[str, Any] | None:
    tooling = tooling_value(run.params.get("tooling_version") or "0")
    body = parent_body(run.stack, run.namespace, run.set_id, tooling, kinds, render)
    if parent_is_current(parent_live, body):
        return parent_live
    applied = cluster.apply(body) if namespace_exists else body
    if not any(o["component"] == PARENT_COMPONENT for o in run.objects):
        action = "created" if parent_live is None else "configured"
        run.record(body, action, PARENT_COMPONENT, before=parent_live, after=applied)
    return applied if not run.check_mode else parent_live
