"""waiter.py: readiness per kind as kubectl rollout status judges it, and failures that name object and reason."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import WaitError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.waiter import (
    Waiter,
    daemonset_rollout,
    deployment_rollout,
    event_lines,
    job_rollout,
    pod_problems,
    statefulset_rollout,
)


def obj(kind: str, spec: dict, status: dict, generation: int = 1, name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "dev", "generation": generation},
        "spec": {"selector": {"matchLabels": {"app": name}}, **spec},
        "status": status,
    }


def deploy(status: dict, replicas: int = 2, **kwargs: Any) -> dict[str, Any]:
    return obj("Deployment", {"replicas": replicas}, {"observedGeneration": 1, **status}, **kwargs)


@pytest.mark.parametrize(
    ("status", "ready", "failed", "detail"),
    [
        ({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}, True, False, "2/2 replicas available"),
        ({"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}, False, False, "1 old replica(s)"),
        ({"replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}, False, False, "1/2 replicas updated"),
        ({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}, False, False, "1/2 updated replicas available"),
        (
            {"observedGeneration": 0, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
            False,
            False,
            "has not seen the new spec",
        ),
        (
            {
                "conditions": [
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": "ReplicaSet web-1 has timed out progressing.",
                    }
                ]
            },
            False,
            True,
            "ProgressDeadlineExceeded: ReplicaSet web-1 has timed out",
        ),
    ],
)
def test_deployment(status: dict, ready: bool, failed: bool, detail: str) -> None:
    rollout = deployment_rollout(deploy(status))
    assert (rollout.ready, rollout.failed) == (ready, failed)
    assert detail in rollout.detail


def sts(status: dict, strategy: dict | None = None, replicas: int = 3) -> dict[str, Any]:
    spec = {"replicas": replicas, **({"updateStrategy": strategy} if strategy else {})}
    return obj("StatefulSet", spec, {"observedGeneration": 1, **status})


@pytest.mark.parametrize(
    ("statefulset", "ready", "detail"),
    [
        (
            sts({"readyReplicas": 3, "updatedReplicas": 3, "currentRevision": "r2", "updateRevision": "r2"}),
            True,
            "3/3 replicas ready",
        ),
        (
            sts({"readyReplicas": 2, "updatedReplicas": 3, "currentRevision": "r2", "updateRevision": "r2"}),
            False,
            "2/3 replicas ready",
        ),
        (
            sts({"readyReplicas": 3, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r2"}),
            False,
            "1/3 replicas updated",
        ),
        # Partitioned: only ordinals >= 2 update, and the revisions never converge (helm#11773).
        (
            sts(
                {"readyReplicas": 3, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r2"},
                {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
            ),
            True,
            "partitioned roll out at 2",
        ),
        (
            sts(
                {"readyReplicas": 3, "updatedReplicas": 0, "currentRevision": "r1", "updateRevision": "r2"},
                {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
            ),
            False,
            "0/1 replicas above partition 2",
        ),
        (
            sts(
                {"readyReplicas": 3, "updatedReplicas": 0, "currentRevision": "r1", "updateRevision": "r2"},
                {"type": "OnDelete"},
            ),
            True,
            "OnDelete",
        ),
        (sts({"readyReplicas": 0}, replicas=0), True, "0/0"),
    ],
    ids=["ready", "not-ready", "rolling", "partition-done", "partition-pending", "on-delete", "scaled-to-zero"],
)
def test_statefulset(statefulset: dict, ready: bool, detail: str) -> None:
    rollout = statefulset_rollout(statefulset)
    assert rollout.ready is ready
    assert detail in rollout.detail


@pytest.mark.parametrize(
    ("status", "strategy", "ready"),
    [
        ({"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3}, None, True),
        ({"desiredNumberScheduled": 3, "updatedNumberScheduled": 2, "numberAvailable": 3}, None, False),
        ({"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}, None, False),
        ({"desiredNumberScheduled": 3, "updatedNumberScheduled": 0, "numberReady": 3}, {"type": "OnDelete"}, True),
    ],
)
def test_daemonset(status: dict, strategy: dict | None, ready: bool) -> None:
    spec = {"updateStrategy": strategy} if strategy else {}
    assert daemonset_rollout(obj("DaemonSet", spec, {"observedGeneration": 1, **status})).ready is ready


@pytest.mark.parametrize(
    ("conditions", "ready", "failed"),
    [
        ([{"type": "Complete", "status": "True"}], True, False),
        ([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}], False, True),
        ([], False, False),
    ],
)
def test_job(conditions: list, ready: bool, failed: bool) -> None:
    rollout = job_rollout(obj("Job", {"completions": 1}, {"conditions": conditions}))
    assert (rollout.ready, rollout.failed) == (ready, failed)


def pod(
    name: str,
    waiting: str | None = None,
    message: str = "",
    restarts: int = 0,
    last: dict | None = None,
    scheduled: bool = True,
    app: str = "web",
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "web",
        "restartCount": restarts,
        "state": {"waiting": {"reason": waiting, "message": message}} if waiting else {},
    }
    if last:
        container["lastState"] = {"terminated": last}
    conditions = (
        []
        if scheduled
        else [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available"}
        ]
    )
    return {
        "metadata": {"name": name, "labels": {"app": app}},
        "status": {"conditions": conditions, "containerStatuses": [container]},
    }


@pytest.mark.parametrize(
    ("item", "fragment", "fatal"),
    [
        (pod("web-1", "ErrImagePull", "not found"), "pod web-1 container web: ErrImagePull: not found", False),
        (
            pod("web-1", "CrashLoopBackOff", restarts=4, last={"reason": "Error", "exitCode": 1}),
            "restarted 4 time(s), last exit: Error (code 1)",
            False,
        ),
        (pod("web-1", "InvalidImageName"), "InvalidImageName", True),
        (pod("web-1", "CreateContainerConfigError", 'secret "db" not found'), 'secret "db" not found', True),
        (pod("web-1", scheduled=False), "not scheduled: Unschedulable: 0/3 nodes", False),
        (pod("web-1", "ContainerCreating"), None, False),
    ],
)
def test_pod_problems(item: dict, fragment: str | None, fatal: bool) -> None:
    problems, is_fatal = pod_problems(item)
    assert is_fatal is fatal
    assert (fragment is None and problems == []) or any(fragment in p for p in problems)


def event(name: str, reason: str, message: str, kind: str = "Warning", at: str = "2026-01-01T00:00:00Z") -> dict:
    return {"type": kind, "reason": reason, "message": message, "lastTimestamp": at, "involvedObject": {"name": name}}


def test_event_lines_keep_the_latest_distinct_warnings_of_the_workload_and_what_it_owns() -> None:
    events = [
        event("web-7c9", "FailedCreate", "forbidden: violates PodSecurity", at="2026-01-01T00:00:02Z"),
        event("web-7c9-abc", "Failed", "Error: ErrImagePull", at="2026-01-01T00:00:01Z"),
        event("web-7c9-abc", "Failed", "Error: ErrImagePull", at="2026-01-01T00:00:03Z"),
        event("webhook", "Failed", "not ours"),
        event("web", "ScalingReplicaSet", "normal news", kind="Normal"),
    ]
    assert event_lines("web", events) == [
        "event FailedCreate on web-7c9: forbidden: violates PodSecurity",
        "event Failed on web-7c9-abc: Error: ErrImagePull",
    ]


class FakeCluster:
    """Returns scripted listings; each poll may return the next state of the workloads."""

    def __init__(self, states: list[list[dict]], pods: list[dict] | None = None, events: list[dict] | None = None):
        self.states = states
        self.pods = pods or []
        self.events = events or []
        self.calls: list[str] = []

    def list(self, api_version: str, kind: str, namespace: str, label_selector: str | None = None) -> list[dict]:
        self.calls.append(kind)
        if kind == "Pod":
            return self.pods
        if kind == "Event":
            return self.events
        state = self.states[0] if len(self.states) == 1 else self.states.pop(0)
        return [o for o in state if o["kind"] == kind]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


READY = deploy({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2})
PENDING = deploy({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 0})


def waiter(cluster: FakeCluster, clock: Clock) -> Waiter:
    return Waiter(cluster, "dev", "applyset.kubernetes.io/part-of=x", interval=1.0, clock=clock, sleep=clock.sleep)


def test_ready_workloads_cost_one_list_and_no_sleep() -> None:
    cluster, clock = FakeCluster([[READY]]), Clock()
    assert waiter(cluster, clock).wait([READY], timeout=30) == ["Deployment dev/web: 2/2 replicas available"]
    assert cluster.calls == ["Deployment"] and clock.now == 0


def test_all_workloads_are_waited_for_together_until_ready() -> None:
    cluster, clock = FakeCluster([[PENDING], [PENDING], [READY]]), Clock()
    waiter(cluster, clock).wait([PENDING], timeout=30)
    assert clock.now == 0.25 + 0.5


def test_polls_come_soon_after_the_apply_then_every_interval() -> None:
    cluster, clock = FakeCluster([[PENDING]] * 6 + [[READY]]), Clock()
    waiter(cluster, clock).wait([PENDING], timeout=30)
    assert clock.now == 0.25 + 0.5 + 1.0 + 1.0 + 1.0 + 1.0


def test_timeout_names_the_workload_and_the_pod_reason() -> None:
    cluster = FakeCluster(
        [[PENDING]],
        pods=[
            pod("web-1", "ErrImagePull", 'image "web:does-not-exist": not found'),
            pod("other-1", "ErrImagePull", app="other"),
        ],
        events=[event("web-1", "Failed", "Failed to pull image")],
    )
    clock = Clock()
    with pytest.raises(WaitError) as error:
        waiter(cluster, clock).wait([PENDING], timeout=5)
    assert clock.now == 5
    message = error.value.message
    assert message.startswith("1 workload(s) not ready after 5s:")
    assert "Deployment dev/web: 0/2 updated replicas available; pod web-1 container web: ErrImagePull" in message
    assert "event Failed on web-1: Failed to pull image" in message and "other-1" not in message
    assert error.value.details["not_ready"][0]["name"] == "web"


def test_a_failure_that_cannot_heal_ends_the_wait_at_once() -> None:
    cluster, clock = FakeCluster([[PENDING]], pods=[pod("web-1", "InvalidImageName")]), Clock()
    with pytest.raises(WaitError, match="1 workload\\(s\\) failed"):
        waiter(cluster, clock).wait([PENDING], timeout=300)
    assert clock.now == 0


def test_progress_deadline_exceeded_ends_the_wait_at_once() -> None:
    stuck = deploy({"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]})
    cluster, clock = FakeCluster([[stuck]]), Clock()
    with pytest.raises(WaitError, match="ProgressDeadlineExceeded"):
        waiter(cluster, clock).wait([stuck], timeout=300)
    assert clock.now == 0


def test_a_workload_missing_from_the_cluster_is_not_ready() -> None:
    cluster, clock = FakeCluster([[]]), Clock()
    with pytest.raises(WaitError, match="Deployment dev/web: not found"):
        waiter(cluster, clock).wait([READY], timeout=1)


def test_kinds_without_rollout_are_not_waited_for() -> None:
    cluster = FakeCluster([[]])
    assert waiter(cluster, Clock()).wait([{"kind": "ConfigMap", "metadata": {"name": "a"}}], timeout=1) == []
    assert cluster.calls == []


def test_a_stale_progress_deadline_does_not_fail_a_new_rollout() -> None:
    """2a: generation before condition, as kubectl rollout status: the controller has not seen the new spec yet."""
    stale = {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "dev", "generation": 4},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": 3,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
        },
    }
    rollout = deployment_rollout(stale)
    assert not rollout.ready and not rollout.failed
    seen = {**stale, "status": {**stale["status"], "observedGeneration": 4}}
    assert deployment_rollout(seen).failed
