"""The module's loop: render and validate, then apply, wait and prune; or remove the whole set.

Order of a run (state=present):

1. render every template and validate every object (no API call yet);
2. read the namespace, the ApplySet parent and the live objects (one LIST
   per kind, which resolves the kind by discovery) in one concurrent round;
3. ensure the namespace (Pod Security labels); refuse objects owned by
   another ApplySet before any of them is written; widen the parent's kind
   list to old + new (KEP-3659: an interrupted run then leaks nothing);
4. apply what differs with server-side apply, tier after tier (order.py);
5. wait for every workload at once;
6. prune members the render no longer has (only after 4 and 5 succeeded);
7. record the kinds and the last good render on the parent.

Check mode runs the same steps as server-side dry runs.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable
from itertools import groupby
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.apply import (
    COMPONENT_ANNOTATION,
    desired_body,
    drop_autoscaled_replicas,
    is_subset,
    is_unchanged,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (
    GROUP_KINDS_ANNOTATION,
    LAST_GOOD_KEY,
    PART_OF_LABEL,
    RENDER_HASH_ANNOTATION,
    GroupKind,
    applyset_id,
    check_adoption,
    check_parent,
    decode_render,
    encode_render,
    group_kind_of,
    parent_body,
    parent_is_current,
    parent_name,
    parse_group_kinds,
    plan_prune,
    statefulset_claim_names,
    tooling_value,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cache import (
    ValidationMemo,
    cache_dir,
    validation_key,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cluster import Cluster, concurrently, first_error
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.diff import diff_entry
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import StackError, WaitError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import (
    Manifest,
    ObjectKey,
    describe,
    object_key,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.order import (
    apply_tier,
    body_kind,
    sort_for_apply,
    sort_for_delete,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.render import (
    HAS_RENDER_LIBS,
    RENDER_IMPORT_ERROR,
    render_stack,
    write_manifests,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.validate import (
    HAS_SCHEMA_LIBS,
    SCHEMA_IMPORT_ERROR,
    validate_stack,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.waiter import Waiter

COLLECTION_VERSION = "0.1.0"
PARENT_COMPONENT = "(applyset parent)"
# kubernetes.core builds a client by loading the kubeconfig into the kubernetes package's
# process-wide default configuration; the warm worker runs requests on several threads.
_CLIENT_LOCK = threading.Lock()


class StackRunner:
    """One run of the module; collects per-object results as it goes, so a failure can report them."""

    def __init__(self, module: Any, cluster: Cluster | None = None) -> None:
        self.module = module
        self.params = module.params
        self.stack = self.params["name"]
        self.namespace = self.params["namespace"]
        self.check_mode = bool(module.check_mode)
        self.want_diff = bool(getattr(module, "_diff", False))
        self.parent = parent_name(self.stack)
        self.set_id = applyset_id(self.parent, self.namespace)
        self.cluster = cluster
        self.objects: list[dict[str, Any]] = []
        self.diffs: list[dict[str, str]] = []
        self.workloads: list[str] = []
        self.warnings: list[str] = []

    # -- results ---------------------------------------------------------------
    @property
    def changed(self) -> bool:
        return any(item["action"] != "unchanged" for item in self.objects)

    def record(
        self,
        body: dict[str, Any],
        action: str,
        component: str | None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        metadata = body.get("metadata", {})
        self.objects.append(
            {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "name": metadata.get("name"),
                "namespace": metadata.get("namespace"),
                "component": component,
                "action": action,
            }
        )
        if self.want_diff and action != "unchanged":
            self.diffs.append(diff_entry(f"{describe(body)} [{action}]", before, after))

    def result(self, **extra: Any) -> dict[str, Any]:
        result = {
            "changed": self.changed,
            "objects": self.objects,
            "applyset": {
                "id": self.set_id,
                "parent": {"apiVersion": "v1", "kind": "Secret", "name": self.parent, "namespace": self.namespace},
            },
            **extra,
        }
        if self.workloads:
            result["workloads"] = self.workloads
        if self.diffs:
            result["diff"] = self.diffs
        return result

    # -- entry point -------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        if self.params["state"] == "absent":
            return self.absent()
        manifests = self.render()
        if self.params["dest"]:
            files = write_manifests(manifests, self.params["dest"], check_mode=self.check_mode)
            return {
                "changed": bool(files),
                "files": files,
                "objects": [self.rendered_item(m) for m in sort_for_apply(manifests, lambda m: m.kind)],
            }
        return self.present(manifests)

    @staticmethod
    def rendered_item(manifest: Manifest) -> dict[str, Any]:
        return {
            "apiVersion": manifest.api_version,
            "kind": manifest.kind,
            "name": manifest.name,
            "namespace": manifest.namespace,
            "component": manifest.component,
            "action": "rendered",
        }

    def render(self) -> list[Manifest]:
        values = {**(self.params["values"] or {}), "secrets": self.params["secrets"] or {}}
        manifests = render_stack(
            self.params["src"], values, stack=self.stack, namespace=self.namespace, components=self.params["components"]
        )
        if self.params["validate"]:
            version = self.params["kubernetes_version"]
            memo = ValidationMemo(cache_dir("validated"))
            key = validation_key([m.body for m in manifests], self.namespace, version)
            warnings = memo.recall(key)
            if warnings is None:
                warnings = validate_stack(manifests, self.namespace, version)
                memo.remember(key, warnings)
            self.warnings += warnings
        drop_autoscaled_replicas(manifests)
        return manifests

    def connect(self) -> Cluster:
        if self.cluster is None:
            from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

            try:
                with _CLIENT_LOCK:
                    client = get_api_client(module=self.module)
            except Exception as error:  # kubeconfig/auth problems of every shape: the user's input
                raise StackError(f"cannot build a Kubernetes client: {error}") from None
            self.cluster = Cluster(
                client, self.params["field_manager"], self.params["force_conflicts"], dry_run=self.check_mode
            )
        return self.cluster

    # -- state=present -------------------------------------------------------------
    def present(self, manifests: list[Manifest]) -> dict[str, Any]:
        cluster = self.connect()
        # A misspelt kind fails in this first round of reads (discovery), before any write.
        namespace_live, parent_live, live = self.read_state(cluster, manifests)
        namespace_exists = self.ensure_namespace(cluster, namespace_live)
        if not namespace_exists:
            parent_live, live = None, {}
        check_parent(parent_live, self.set_id)
        try:
            self.converge(cluster, manifests, parent_live, namespace_exists, live)
        except StackError as error:
            if self.params["rollback_on_failure"] and not self.check_mode:
                self.rollback(cluster, error, parent_live)
            raise
        return self.result()

    def read_state(
        self, cluster: Cluster, manifests: list[Manifest]
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[ObjectKey, dict[str, Any]]]:
        """The namespace, the ApplySet parent and every object of the rendered kinds, in one concurrent round."""
        kinds = sorted({(m.api_version, m.kind) for m in manifests})
        reads: list[Callable[[], Any]] = [
            lambda: cluster.get("v1", "Namespace", self.namespace, None),
            lambda: cluster.get("v1", "Secret", self.parent, self.namespace),
            *(lambda kind=kind: cluster.list(kind[0], kind[1], self.namespace) for kind in kinds),
        ]
        outcomes = concurrently(lambda read: read(), reads)
        first_error(outcomes)
        namespace_live, parent_live = outcomes[0][0], outcomes[1][0]
        live = {object_key(item): item for items, _error in outcomes[2:] for item in items or []}
        return namespace_live, parent_live, live

    def ensure_namespace(self, cluster: Cluster, live: dict[str, Any] | None) -> bool:
        """Create or label the namespace; True when it exists on the server (not only in a dry run)."""
        if not self.params["create_namespace"]:
            if live is None:
                raise StackError(f"namespace {self.namespace} does not exist and create_namespace is false")
            return True
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": dict(self.params["namespace_labels"] or {})},
        }
        if live is not None and is_subset(body, live):
            return True
        applied = cluster.apply(body)
        self.record(body, "created" if live is None else "configured", None, before=live, after=applied)
        return live is not None or not self.check_mode

    def converge(
        self,
        cluster: Cluster,
        manifests: list[Manifest],
        parent_live: dict[str, Any] | None,
        namespace_exists: bool,
        live: dict[ObjectKey, dict[str, Any]] | None = None,
    ) -> None:
        """Apply, wait, prune; ``live`` holds the rendered kinds' objects when the caller read them already."""
        desired = [(m, desired_body(m, self.set_id)) for m in sort_for_apply(manifests, lambda m: m.kind)]
        bodies = [body for _manifest, body in desired]
        new_kinds = {group_kind_of(body) for body in bodies}
        parent_annotations = (parent_live or {}).get("metadata", {}).get("annotations") or {}
        old_kinds = parse_group_kinds(parent_annotations.get(GROUP_KINDS_ANNOTATION))
        if not namespace_exists:
            live = {}
        elif live is None:
            live = self.fetch_live(cluster, bodies, old_kinds - new_kinds)
        elif old_kinds - new_kinds:
            live = {**live, **self.fetch_live(cluster, [], old_kinds - new_kinds)}
        for body in bodies:
            check_adoption(live.get(object_key(body)), self.set_id)

        previous = self.stored_render(parent_live)
        # Component and body only: the template path depends on where the module ran.
        render = encode_render([{"component": m.component, "body": m.body} for m in manifests])
        parent_live = self.apply_parent(cluster, parent_live, new_kinds | old_kinds, previous, namespace_exists)

        for _tier, group in groupby(desired, key=lambda pair: apply_tier(pair[0].kind)):
            self.apply_group(cluster, list(group), live, namespace_exists)

        if self.params["wait"] and not self.check_mode:
            waiter = Waiter(
                cluster, self.namespace, f"{PART_OF_LABEL}={self.set_id}", interval=self.params["wait_sleep"]
            )
            try:
                self.workloads = waiter.wait(bodies, self.params["wait_timeout"])
            except WaitError as error:
                first = error.details["not_ready"][0]
                error.details.setdefault("object", {k: first[k] for k in ("kind", "name", "namespace")})
                error.details.setdefault("reason", first["reason"])
                raise

        kinds = new_kinds
        if self.params["prune"]:
            self.prune(cluster, [o for o in live.values() if self.is_member(o)], {object_key(b) for b in bodies})
        else:
            kinds = new_kinds | old_kinds
        self.apply_parent(cluster, parent_live, kinds, render, namespace_exists)

    def apply_group(
        self,
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
                self.record(body, "unchanged", manifest.component)
            else:
                todo.append((manifest, body, current))
        # A dry run cannot create objects in a namespace that itself exists only in the dry run.
        outcomes = concurrently(lambda item: cluster.apply(item[1]) if namespace_exists else item[1], todo)
        for (manifest, body, current), (applied, error) in zip(todo, outcomes, strict=True):
            if error is None:
                self.record(
                    body,
                    "created" if current is None else "configured",
                    manifest.component,
                    before=current,
                    after=applied,
                )
        first_error(outcomes)

    def is_member(self, body: dict[str, Any]) -> bool:
        return (body.get("metadata", {}).get("labels") or {}).get(PART_OF_LABEL) == self.set_id

    def fetch_live(
        self, cluster: Cluster, bodies: list[dict[str, Any]], old_only: set[GroupKind]
    ) -> dict[ObjectKey, dict[str, Any]]:
        """Every object of the rendered kinds in the namespace, and the members of kinds no longer rendered."""
        selector = f"{PART_OF_LABEL}={self.set_id}"
        lists: list[tuple[str, str, str | None]] = [
            (api_version, kind, None) for api_version, kind in sorted({(b["apiVersion"], b["kind"]) for b in bodies})
        ]
        for group, kind in sorted(old_only):
            resource = cluster.resource_for_group_kind(group, kind)
            if resource is None:
                self.warnings.append(f"the parent lists {kind}.{group} but the API server no longer serves it")
            else:
                lists.append((resource.group_version, kind, selector))
        outcomes = concurrently(lambda spec: cluster.list(spec[0], spec[1], self.namespace, spec[2]), lists)
        first_error(outcomes)
        return {object_key(item): item for items, _error in outcomes for item in items or []}

    @staticmethod
    def stored_render(parent_live: dict[str, Any] | None) -> tuple[str, str] | None:
        if not parent_live:
            return None
        digest = (parent_live.get("metadata", {}).get("annotations") or {}).get(RENDER_HASH_ANNOTATION)
        data = (parent_live.get("data") or {}).get(LAST_GOOD_KEY)
        return (digest, data) if digest and data else None

    def apply_parent(
        self,
        cluster: Cluster,
        parent_live: dict[str, Any] | None,
        kinds: set[GroupKind],
        render: tuple[str, str] | None,
        namespace_exists: bool,
    ) -> dict[str, Any] | None:
        body = parent_body(self.stack, self.namespace, self.set_id, tooling_value(COLLECTION_VERSION), kinds, render)
        if parent_is_current(parent_live, body):
            return parent_live
        applied = cluster.apply(body) if namespace_exists else body
        if not any(o["component"] == PARENT_COMPONENT for o in self.objects):
            self.record(
                body,
                "created" if parent_live is None else "configured",
                PARENT_COMPONENT,
                before=parent_live,
                after=applied,
            )
        return applied if not self.check_mode else parent_live

    def prune(
        self, cluster: Cluster, members: list[dict[str, Any]], wanted: set[ObjectKey], action: str = "pruned"
    ) -> None:
        plan = plan_prune(members, wanted, self.set_id, self.params["prune_pvcs"])
        claims: list[dict[str, Any]] | None = None
        for body in sort_for_delete(plan.delete, body_kind):
            if cluster.delete(body):
                self.record(body, action, self.component_of(body), before=body)
            if body.get("kind") == "StatefulSet" and self.params["prune_pvcs"]:
                if claims is None:
                    claims = cluster.list("v1", "PersistentVolumeClaim", self.namespace)
                for name in statefulset_claim_names(body, claims):
                    claim = next(c for c in claims if c["metadata"]["name"] == name)
                    if cluster.delete(claim):
                        self.record(claim, action, self.component_of(body), before=claim)
        for body in plan.retain:
            cluster.remove_label(body, PART_OF_LABEL)
            self.record(body, "retained", self.component_of(body))

    @staticmethod
    def component_of(body: dict[str, Any]) -> str | None:
        return (body.get("metadata", {}).get("annotations") or {}).get(COMPONENT_ANNOTATION)

    def rollback(self, cluster: Cluster, error: StackError, parent_before: dict[str, Any] | None) -> None:
        """Converge back to the last good render kept on the parent; extend the error with the outcome."""
        stored = decode_render(parent_before)
        if stored is None:
            error.message += "\nno earlier good render to roll back to"
            return
        manifests = [
            Manifest(item["component"], f"last good render of {item['component']}", item["body"]) for item in stored
        ]
        parent_now = cluster.get("v1", "Secret", self.parent, self.namespace)
        try:
            self.converge(cluster, manifests, parent_now, namespace_exists=True)
        except StackError as rollback_error:
            error.message += f"\nrollback to the last good render failed too: {rollback_error.message}"
            error.details["rolled_back"] = False
            return
        error.message += "\nrolled back to the last good render"
        error.details["rolled_back"] = True

    # -- state=absent --------------------------------------------------------------
    def absent(self) -> dict[str, Any]:
        cluster = self.connect()
        parent_live = cluster.get("v1", "Secret", self.parent, self.namespace)
        if parent_live is None:
            return self.result()
        check_parent(parent_live, self.set_id)
        kinds = parse_group_kinds((parent_live["metadata"].get("annotations") or {}).get(GROUP_KINDS_ANNOTATION))
        members = list(self.fetch_live(cluster, [], kinds).values())
        self.prune(cluster, members, set(), action="deleted")
        if cluster.delete(parent_live):
            self.record(parent_live, "deleted", PARENT_COMPONENT, before=parent_live)
        if self.params["wait"] and not self.check_mode:
            self.wait_gone(
                cluster, [o for o in members if o.get("kind") != "PersistentVolumeClaim" or self.params["prune_pvcs"]]
            )
        return self.result()

    def wait_gone(self, cluster: Cluster, bodies: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + self.params["wait_timeout"]
        remaining = list(bodies)
        while remaining:
            remaining = [
                b
                for b in remaining
                if cluster.get(b["apiVersion"], b["kind"], b["metadata"]["name"], self.namespace) is not None
            ]
            if not remaining:
                return
            if time.monotonic() >= deadline:
                raise WaitError(
                    "still present after the wait timeout: " + ", ".join(describe(b) for b in remaining),
                    not_ready=[
                        {
                            "kind": b["kind"],
                            "name": b["metadata"]["name"],
                            "namespace": self.namespace,
                            "reason": "still terminating",
                        }
                        for b in remaining
                    ],
                )
            time.sleep(self.params["wait_sleep"])


def missing_libraries(module: Any) -> str | None:
    from ansible.module_utils.basic import missing_required_lib

    if importlib.util.find_spec("kubernetes") is None:
        return missing_required_lib("kubernetes")
    if not HAS_RENDER_LIBS:
        return missing_required_lib("Jinja2 and PyYAML", reason=str(RENDER_IMPORT_ERROR))
    if module.params["validate"] and not HAS_SCHEMA_LIBS:
        return missing_required_lib("kubernetes-validate", reason=str(SCHEMA_IMPORT_ERROR))
    return None


def execute(module: Any) -> dict[str, Any]:
    """Run the module; every expected failure is an outcome with a message and details, never a traceback.

    The outcome is plain data (it crosses the warm worker's socket): ``result`` (the module's
    return values), ``failure`` (the message, or None on success) and ``warnings``.
    """
    missing = missing_libraries(module)
    if missing:
        return {"result": {}, "failure": missing, "warnings": []}
    runner = StackRunner(module)
    try:
        result = runner.run()
    except StackError as error:
        return {"result": runner.result(**error.details), "failure": error.message, "warnings": runner.warnings}
    return {"result": result, "failure": None, "warnings": runner.warnings}
