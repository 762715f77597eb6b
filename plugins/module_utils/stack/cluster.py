"""The few API calls the module makes, on kubernetes.core's client.

The client comes from kubernetes.core (get_api_client: auth options,
kubeconfig, cached discovery); writes use ``kubernetes.dynamic``'s
server-side apply. Responses are kept as plain dicts (no ResourceInstance
wrapping: faster, and what the rest of the module works on). Every API
failure becomes an ApiError naming the object and the server's reason.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import ApiError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import describe

try:
    from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, NotFoundError, ResourceNotFoundError
    from urllib3.exceptions import HTTPError
except ImportError:
    pass  # AnsibleK8SModule reports the missing kubernetes library before any Cluster exists

DRY_RUN_ALL = "All"
# Requests in flight at once: objects of one kind do not depend on each other, and
# the round trips, not the server, are what a run waits on (kubernetes' own
# connection pool holds 10 per host by default).
PARALLEL_REQUESTS = 8

T = TypeVar("T")
R = TypeVar("R")


def concurrently(call: Callable[[T], R], items: Sequence[T]) -> list[tuple[R | None, ApiError | None]]:
    """call(item) for every item on a few threads; (result, error) per item, in input order."""

    def guarded(item: T) -> tuple[R | None, ApiError | None]:
        try:
            return call(item), None
        except ApiError as error:
            return None, error

    if len(items) <= 1:
        return [guarded(item) for item in items]
    return list(_pool().map(guarded, items))


_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One pool for the module process (all its stacks): starting threads per batch costs more than a round trip.

    Its threads end with the process; calls never submit calls, so batches only queue, never deadlock.
    """
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS, thread_name_prefix="stack-api"))
        return _POOL[0]


def first_error(outcomes: Sequence[tuple[Any, ApiError | None]]) -> None:
    for _result, error in outcomes:
        if error is not None:
            raise error


def _plain(_client: Any, data: Any) -> Any:
    return data


def object_ref(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
    }


def api_failure(error: Exception, body: dict[str, Any], verb: str) -> ApiError:
    """One readable line from an API error: status, reason, the server's message and field causes."""
    where = describe(body)
    if isinstance(error, DynamicApiError):
        reason, message = getattr(error, "reason", ""), ""
        try:
            status = json.loads(error.body)
            reason, message = status.get("reason") or reason, status.get("message") or ""
        except (TypeError, ValueError):
            message = str(getattr(error, "body", "") or "")
        text = f"{verb} {where} failed: {error.status} {reason}: {message}".rstrip(": ")
        if error.status == 409 and "conflict" in message.lower():
            text += " (another field manager owns these fields; force_conflicts=true takes them over)"
        return ApiError(text, object=object_ref(body), reason=reason, status=error.status)
    return ApiError(
        f"{verb} {where} failed: cannot reach the API server: {error}", object=object_ref(body), reason="Unreachable"
    )


class Cluster:
    """List, get, apply and delete by apiVersion/kind on one API server."""

    def __init__(self, k8s_client: Any, field_manager: str, force_conflicts: bool, dry_run: bool) -> None:
        self._k8s = k8s_client
        self._dynamic = k8s_client.client
        self.field_manager = field_manager
        self.force_conflicts = force_conflicts
        self.dry_run = dry_run
        self._resources: dict[tuple[str, str], Any] = {}
        # Lists run on several threads and each resolves its kind: discovery, and
        # kubernetes.core's discovery cache behind it, see one caller at a time.
        self._resources_lock = threading.Lock()

    def resource(self, api_version: str, kind: str) -> Any:
        with self._resources_lock:
            return self._resolve(api_version, kind)

    def _resolve(self, api_version: str, kind: str) -> Any:
        key = (api_version, kind)
        if key not in self._resources:
            try:
                self._resources[key] = self._k8s.resource(kind, api_version)
            except ResourceNotFoundError:
                raise ApiError(
                    f"the API server does not serve {kind} in {api_version} "
                    "(misspelt kind or apiVersion, or a missing CRD)",
                    object={"apiVersion": api_version, "kind": kind},
                    reason="NotFound",
                ) from None
            except (DynamicApiError, HTTPError, OSError) as error:
                raise api_failure(error, {"apiVersion": api_version, "kind": kind}, "discovery of") from None
        return self._resources[key]

    def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        resource = self.resource(api_version, kind)
        try:
            listing = self._dynamic.get(
                resource,
                namespace=namespace if resource.namespaced else None,
                label_selector=label_selector,
                serializer=_plain,
            )
        except (DynamicApiError, HTTPError, OSError) as error:
            raise api_failure(
                error,
                {"apiVersion": api_version, "kind": kind, "metadata": {"name": "(list)", "namespace": namespace}},
                "listing",
            ) from None
        items = listing.get("items") or []
        for item in items:
            # List items carry no type; the rest of the module keys objects by it.
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        resource = self.resource(api_version, kind)
        body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}}
        try:
            return self._dynamic.get(
                resource, name=name, namespace=namespace if resource.namespaced else None, serializer=_plain
            )
        except NotFoundError:
            return None
        except (DynamicApiError, HTTPError, OSError) as error:
            raise api_failure(error, body, "reading") from None

    def apply(self, body: dict[str, Any], field_manager: str | None = None, force: bool = False) -> dict[str, Any]:
        """Server-side apply; `force` takes conflicting fields over even when force_conflicts is off."""
        resource = self.resource(body["apiVersion"], body["kind"])
        try:
            return self._dynamic.server_side_apply(
                resource,
                body=body,
                namespace=body["metadata"].get("namespace") if resource.namespaced else None,
                field_manager=field_manager or self.field_manager,
                force_conflicts=self.force_conflicts or force,
                dry_run=DRY_RUN_ALL if self.dry_run else None,
                serializer=_plain,
            )
        except (DynamicApiError, HTTPError, OSError) as error:
            raise api_failure(error, body, "applying") from None

    def delete(self, body: dict[str, Any]) -> bool:
        """Delete in the background (the garbage collector removes pods); False when already gone.

        `body` is the object as listed: the delete carries its UID as a
        precondition, so an object deleted and made anew by someone else since
        (same name, another UID) is left alone, and also reported False.
        Every option is in the DeleteOptions body, dry run included: the API
        server reads a DELETE's options from its body when it has one and then
        ignores the query (a dryRun query beside a body deletes for real).
        """
        resource = self.resource(body["apiVersion"], body["kind"])
        metadata = body["metadata"]
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if metadata.get("uid"):
            options["preconditions"] = {"uid": metadata["uid"]}
        if self.dry_run:
            options["dryRun"] = [DRY_RUN_ALL]
        try:
            self._dynamic.delete(
                resource,
                name=metadata["name"],
                namespace=metadata.get("namespace") if resource.namespaced else None,
                body=options,
                serializer=_plain,
            )
        except NotFoundError:
            return False
        except ConflictError as error:
            if "precondition" in str(getattr(error, "body", "")).lower():
                return False
            raise api_failure(error, body, "deleting") from None
        except (DynamicApiError, HTTPError, OSError) as error:
            raise api_failure(error, body, "deleting") from None
        return True

    def remove_label(self, body: dict[str, Any], label: str) -> None:
        """Drop one label with a JSON merge patch (SSA would also drop every field we own)."""
        resource = self.resource(body["apiVersion"], body["kind"])
        metadata = body["metadata"]
        try:
            self._dynamic.patch(
                resource,
                body={"metadata": {"labels": {label: None}}},
                name=metadata["name"],
                namespace=metadata.get("namespace"),
                content_type="application/merge-patch+json",
                field_manager=self.field_manager,
                dry_run=DRY_RUN_ALL if self.dry_run else None,
                serializer=_plain,
            )
        except (DynamicApiError, HTTPError, OSError) as error:
            raise api_failure(error, body, "unlabelling") from None

    def resource_for_group_kind(self, group: str, kind: str) -> Any | None:
        """The served (preferred) version of a group/kind, for kinds known only from the parent's annotation."""
        try:
            found = [
                r
                for r in self._dynamic.resources.search(kind=kind)
                if getattr(r, "group", "") == group and not r.kind.endswith("List")
            ]
        except (DynamicApiError, HTTPError, OSError) as error:
            raise api_failure(error, {"kind": kind, "metadata": {"name": "(discovery)"}}, "discovery of") from None
        preferred = [r for r in found if getattr(r, "preferred", False)] or found
        return preferred[0] if preferred else None
