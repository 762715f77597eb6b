"""cluster.py: the API calls on kubernetes.core's client (mocked), and API errors as one readable line."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, NotFoundError, ResourceNotFoundError
from urllib3.exceptions import MaxRetryError

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cluster import (
    Cluster,
    api_failure,
    concurrently,
    first_error,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import ApiError

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "dev"}}


def api_error(cls: type, status: int, reason: str, message: str) -> DynamicApiError:
    raw = ApiException(status=status, reason=reason)
    raw.body = json.dumps({"kind": "Status", "reason": reason, "message": message})
    return cls(raw)


def make_cluster(dry_run: bool = False, force: bool = False) -> tuple[Cluster, mock.Mock, mock.Mock]:
    k8s = mock.Mock()
    resource = SimpleNamespace(namespaced=True, group_version="v1", kind="ConfigMap")
    k8s.resource.return_value = resource
    return Cluster(k8s, "orchestrator.k3s.stack", force, dry_run), k8s, k8s.client


def test_resources_are_discovered_once_per_kind() -> None:
    cluster, k8s, _dynamic = make_cluster()
    cluster.resource("v1", "ConfigMap")
    cluster.resource("v1", "ConfigMap")
    k8s.resource.assert_called_once_with("ConfigMap", "v1")


def test_an_unknown_kind_is_named() -> None:
    cluster, k8s, _dynamic = make_cluster()
    k8s.resource.side_effect = ResourceNotFoundError("nope")
    with pytest.raises(ApiError, match="does not serve Deploymnet in apps/v1"):
        cluster.resource("apps/v1", "Deploymnet")


@pytest.mark.parametrize(("dry_run", "expected"), [(False, None), (True, "All")])
def test_apply_is_server_side_with_the_field_manager(dry_run: bool, expected: str | None) -> None:
    cluster, _k8s, dynamic = make_cluster(dry_run=dry_run, force=True)
    dynamic.server_side_apply.return_value = {"applied": True}
    assert cluster.apply(CONFIGMAP) == {"applied": True}
    kwargs = dynamic.server_side_apply.call_args.kwargs
    assert kwargs["field_manager"] == "orchestrator.k3s.stack"
    assert kwargs["force_conflicts"] is True
    assert kwargs["dry_run"] == expected
    assert kwargs["namespace"] == "dev" and kwargs["body"] is CONFIGMAP


def test_list_items_get_their_type_back() -> None:
    cluster, _k8s, dynamic = make_cluster()
    dynamic.get.return_value = {"items": [{"metadata": {"name": "a"}}]}
    assert cluster.list("v1", "ConfigMap", "dev", "x=y") == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    ]
    assert dynamic.get.call_args.kwargs["label_selector"] == "x=y"


def test_a_missing_object_reads_as_none_and_deletes_as_false() -> None:
    cluster, _k8s, dynamic = make_cluster()
    dynamic.get.side_effect = api_error(NotFoundError, 404, "NotFound", "not found")
    dynamic.delete.side_effect = api_error(NotFoundError, 404, "NotFound", "not found")
    assert cluster.get("v1", "ConfigMap", "web", "dev") is None
    assert cluster.delete(CONFIGMAP) is False


@pytest.mark.parametrize(("dry_run", "expected"), [(False, None), (True, ["All"])])
def test_delete_is_in_the_background_and_dry_run_in_check_mode(dry_run: bool, expected: list | None) -> None:
    """Both in the DeleteOptions body: with a body, the API server ignores a DELETE's query (dryRun there
    would delete for real; tests/integration check mode)."""
    cluster, _k8s, dynamic = make_cluster(dry_run=dry_run)
    assert cluster.delete(CONFIGMAP) is True
    kwargs = dynamic.delete.call_args.kwargs
    assert kwargs["body"]["propagationPolicy"] == "Background"
    assert kwargs["body"].get("dryRun") == expected and "dry_run" not in kwargs


def test_a_delete_carries_the_uid_of_the_object_it_means() -> None:
    cluster, _k8s, dynamic = make_cluster()
    listed = {**CONFIGMAP, "metadata": {**CONFIGMAP["metadata"], "uid": "1234"}}
    assert cluster.delete(listed) is True
    assert dynamic.delete.call_args.kwargs["body"]["preconditions"] == {"uid": "1234"}
    dynamic.delete.side_effect = api_error(
        ConflictError, 409, "Conflict", "Precondition failed: UID in precondition: 1234, UID in object meta: 5678"
    )
    assert cluster.delete(listed) is False


def test_removing_a_label_is_a_merge_patch() -> None:
    cluster, _k8s, dynamic = make_cluster()
    cluster.remove_label(CONFIGMAP, "applyset.kubernetes.io/part-of")
    kwargs = dynamic.patch.call_args.kwargs
    assert kwargs["body"] == {"metadata": {"labels": {"applyset.kubernetes.io/part-of": None}}}
    assert kwargs["content_type"] == "application/merge-patch+json"


@pytest.mark.parametrize(
    ("error", "fragments"),
    [
        (
            api_error(
                DynamicApiError, 422, "Invalid", 'Service "web" is invalid: spec.ports[0].nodePort: Invalid value'
            ),
            ["applying ConfigMap dev/web failed: 422 Invalid:", "spec.ports[0].nodePort"],
        ),
        (
            api_error(DynamicApiError, 409, "Conflict", 'Apply failed with 1 conflict: conflict with "kubectl"'),
            ["409 Conflict", "force_conflicts=true takes them over"],
        ),
        (
            MaxRetryError(None, "https://127.0.0.1:6443", "refused"),
            ["applying ConfigMap dev/web failed: cannot reach the API server"],
        ),
    ],
    ids=["invalid", "conflict", "unreachable"],
)
def test_api_failures_are_one_line_with_object_and_reason(error: Exception, fragments: list[str]) -> None:
    cluster, _k8s, dynamic = make_cluster()
    dynamic.server_side_apply.side_effect = error
    with pytest.raises(ApiError) as raised:
        cluster.apply(CONFIGMAP)
    for fragment in fragments:
        assert fragment in raised.value.message
    assert raised.value.details["object"] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "web",
        "namespace": "dev",
    }


def test_a_status_body_that_is_not_json_is_still_reported() -> None:
    raw = ApiException(status=500, reason="Internal Server Error")
    raw.body = "upstream connect error"
    failure = api_failure(DynamicApiError(raw), CONFIGMAP, "applying")
    assert "500 Internal Server Error: upstream connect error" in failure.message


def resource(kind: str, group: str, version: str, preferred: bool) -> Any:
    return SimpleNamespace(kind=kind, group=group, group_version=f"{group}/{version}", preferred=preferred)


def test_a_kind_known_only_by_group_resolves_to_the_preferred_version() -> None:
    cluster, _k8s, dynamic = make_cluster()
    dynamic.resources.search.return_value = [
        resource("HorizontalPodAutoscaler", "autoscaling", "v1", False),
        resource("HorizontalPodAutoscaler", "autoscaling", "v2", True),
        resource("HorizontalPodAutoscalerList", "autoscaling", "v2", True),
        resource("HorizontalPodAutoscaler", "other.example", "v1", True),
    ]
    assert cluster.resource_for_group_kind("autoscaling", "HorizontalPodAutoscaler").group_version == "autoscaling/v2"
    dynamic.resources.search.return_value = []
    assert cluster.resource_for_group_kind("gone.example", "Widget") is None


def test_concurrent_calls_keep_the_input_order_and_report_each_error() -> None:
    def call(n: int) -> int:
        if n == 3:
            raise ApiError("three failed")
        time.sleep(0.01 * (5 - n))  # later items finish first
        return n * 10

    outcomes = concurrently(call, [1, 2, 3, 4])
    assert [value for value, _error in outcomes] == [10, 20, None, 40]
    assert [str(error) if error else None for _value, error in outcomes] == [None, None, "three failed", None]
    with pytest.raises(ApiError, match="three failed"):
        first_error(outcomes)
    first_error(concurrently(call, [1]))
