"""Wait for all workloads of a stack at once, with one timeout.

Readiness follows ``kubectl rollout status`` per kind (Deployment,
StatefulSet with partition and OnDelete, DaemonSet, Job). A failure that
will not heal by waiting (ProgressDeadlineExceeded, a failed Job, an image
name that cannot be parsed, a missing Secret key) ends the wait at once.
Whatever ends it, the message names each workload that is not ready and why:
its status, its pods' container states and the namespace's Warning events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import WaitError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import describe

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
# Container states that waiting cannot fix: the pod spec itself is wrong.
FATAL_WAITING_REASONS = frozenset(
    {
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
_BENIGN_WAITING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})
_EVENTS_PER_WORKLOAD = 3
# The first poll after the apply comes this soon, the next ones twice as late each, up to the
# interval: a small rollout is often ready within a second, and a flat interval would make
# every stack of a task wait at least that long.
FIRST_POLL_SECONDS = 0.25


@dataclass
class Rollout:
    """Where one workload stands: ready, failed (will not heal), or still in progress."""

    ready: bool
    detail: str
    failed: bool = False


def _generation_seen(obj: dict[str, Any]) -> bool:
    generation = obj.get("metadata", {}).get("generation", 0)
    return (obj.get("status") or {}).get("observedGeneration", 0) >= generation


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


def deployment_rollout(obj: dict[str, Any]) -> Rollout:
    status = obj.get("status") or {}
    # The generation first, as kubectl rollout status does: until the controller
    # has seen the new spec, a ProgressDeadlineExceeded is the earlier rollout's.
    if not _generation_seen(obj):
        return Rollout(False, "the controller has not seen the new spec yet")
    progressing = _condition(obj, "Progressing")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Rollout(False, f"ProgressDeadlineExceeded: {progressing.get('message', '')}".rstrip(": "), True)
    wanted = obj.get("spec", {}).get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < wanted:
        return Rollout(False, f"{updated}/{wanted} replicas updated")
    if total > updated:
        return Rollout(False, f"{total - updated} old replica(s) still terminating")
    if available < updated:
        return Rollout(False, f"{available}/{updated} updated replicas available")
    return Rollout(True, f"{available}/{wanted} replicas available")


def statefulset_rollout(obj: dict[str, Any]) -> Rollout:
    status = obj.get("status") or {}
    if not _generation_seen(obj):
        return Rollout(False, "the controller has not seen the new spec yet")
    spec = obj.get("spec", {})
    wanted = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < wanted:
        return Rollout(False, f"{ready}/{wanted} replicas ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        # Pods change only when deleted by hand: ready pods are all there is to wait for.
        return Rollout(True, f"{ready}/{wanted} replicas ready (OnDelete: pods update when deleted)")
    partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
    updated = status.get("updatedReplicas", 0)
    if partition > 0:
        # Helm's --wait hangs here (helm#11773): only ordinals >= partition are ever updated.
        if updated < wanted - partition:
            return Rollout(False, f"{updated}/{wanted - partition} replicas above partition {partition} updated")
        return Rollout(True, f"{ready}/{wanted} ready, partitioned roll out at {partition} complete")
    if status.get("updateRevision") != status.get("currentRevision"):
        return Rollout(False, f"{updated}/{wanted} replicas updated to the new revision")
    return Rollout(True, f"{ready}/{wanted} replicas ready")


def daemonset_rollout(obj: dict[str, Any]) -> Rollout:
    status = obj.get("status") or {}
    if not _generation_seen(obj):
        return Rollout(False, "the controller has not seen the new spec yet")
    wanted = status.get("desiredNumberScheduled", 0)
    if (obj.get("spec", {}).get("updateStrategy") or {}).get("type") == "OnDelete":
        ready = status.get("numberReady", 0)
        return Rollout(ready >= wanted, f"{ready}/{wanted} pods ready (OnDelete)")
    updated = status.get("updatedNumberScheduled", 0)
    available = status.get("numberAvailable", 0)
    if updated < wanted:
        return Rollout(False, f"{updated}/{wanted} pods updated")
    if available < wanted:
        return Rollout(False, f"{available}/{wanted} pods available")
    return Rollout(True, f"{available}/{wanted} pods available")


def job_rollout(obj: dict[str, Any]) -> Rollout:
    if _condition(obj, "Complete").get("status") == "True":
        return Rollout(True, "complete")
    failed = _condition(obj, "Failed")
    if failed.get("status") == "True":
        return Rollout(False, f"failed: {failed.get('reason', '')}: {failed.get('message', '')}".rstrip(": "), True)
    succeeded = (obj.get("status") or {}).get("succeeded", 0)
    return Rollout(False, f"{succeeded}/{obj.get('spec', {}).get('completions', 1)} completions")


ROLLOUTS: dict[str, Callable[[dict[str, Any]], Rollout]] = {
    "Deployment": deployment_rollout,
    "StatefulSet": statefulset_rollout,
    "DaemonSet": daemonset_rollout,
    "Job": job_rollout,
}


def selects(workload: dict[str, Any], pod: dict[str, Any]) -> bool:
    selector = (workload.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    labels = pod.get("metadata", {}).get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_problems(pod: dict[str, Any]) -> tuple[list[str], bool]:
    """What is wrong with one pod, and whether any of it is fatal."""
    name = pod.get("metadata", {}).get("name")
    status = pod.get("status") or {}
    problems, fatal = [], False
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            problems.append(f"pod {name} not scheduled: {condition.get('reason')}: {condition.get('message', '')}")
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason and reason not in _BENIGN_WAITING_REASONS:
            message = waiting.get("message", "")
            problems.append(
                f"pod {name} container {container.get('name')}: {reason}" + (f": {message}" if message else "")
            )
            fatal = fatal or reason in FATAL_WAITING_REASONS
        last = (container.get("lastState") or {}).get("terminated") or {}
        if container.get("restartCount", 0) and last:
            problems.append(
                f"pod {name} container {container.get('name')} restarted {container['restartCount']} "
                f"time(s), last exit: {last.get('reason')} (code {last.get('exitCode')})"
            )
    return problems, fatal


def event_lines(name: str, events: Iterable[dict[str, Any]]) -> list[str]:
    """Latest distinct Warning events of a workload and of what it owns (ReplicaSets, pods: '<name>-...')."""
    found: dict[tuple[str, str], str] = {}
    ordered = sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    for event in ordered:
        involved = (event.get("involvedObject") or {}).get("name", "")
        if event.get("type") != "Warning" or not (involved == name or involved.startswith(name + "-")):
            continue
        key = (event.get("reason", ""), event.get("message", ""))
        found.pop(key, None)
        found[key] = f"event {key[0]} on {involved}: {key[1]}"
    return list(found.values())[-_EVENTS_PER_WORKLOAD:]


def diagnose(
    workload: dict[str, Any], rollout: Rollout, pods: list[dict[str, Any]], events: list[dict[str, Any]]
) -> tuple[str, bool]:
    """One line about a workload that is not ready; True when waiting longer cannot help."""
    reasons = [rollout.detail]
    fatal = rollout.failed
    for pod in pods:
        if selects(workload, pod):
            problems, pod_fatal = pod_problems(pod)
            reasons += problems
            fatal = fatal or pod_fatal
    reasons += event_lines(workload.get("metadata", {}).get("name", ""), events)
    return f"{describe(workload)}: " + "; ".join(reasons), fatal


class Waiter:
    """Polls the workloads of one namespace until all are ready, one fails, or time runs out."""

    def __init__(
        self,
        cluster: Any,
        namespace: str,
        label_selector: str,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.label_selector = label_selector
        self.interval = interval
        self.clock = clock
        self.sleep = sleep

    def _live(self, wanted: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        live = {}
        for api_version, kind in sorted({(b["apiVersion"], b["kind"]) for b in wanted.values()}):
            for item in self.cluster.list(api_version, kind, self.namespace, self.label_selector):
                live[(kind, item["metadata"]["name"])] = item
        return live

    def wait(
        self,
        workloads: list[dict[str, Any]],
        timeout: float,
        listed: dict[tuple[str, str], dict[str, Any]] | None = None,
    ) -> list[str]:
        """Return a line per workload once all are ready; raise WaitError otherwise.

        `listed`: the workloads as just read (kind, name -> object), used for
        the first poll, so a stack with nothing to do waits without a request.
        """
        wanted = {(w["kind"], w["metadata"]["name"]): w for w in workloads if w.get("kind") in ROLLOUTS}
        if not wanted:
            return []
        start = self.clock()
        pause = min(FIRST_POLL_SECONDS, self.interval)
        while True:
            if listed is not None and all(key in listed for key in wanted):
                live, listed = listed, None
            else:
                live = self._live(wanted)
            pending = {}
            for key, workload in wanted.items():
                rollout = ROLLOUTS[key[0]](live[key]) if key in live else Rollout(False, "not found")
                if not rollout.ready:
                    pending[key] = (live.get(key, workload), rollout)
            if not pending:
                return [f"{describe(live[key])}: {ROLLOUTS[key[0]](live[key]).detail}" for key in wanted]
            elapsed = self.clock() - start
            pods = self.cluster.list("v1", "Pod", self.namespace)
            diagnosed = {key: diagnose(obj, rollout, pods, []) for key, (obj, rollout) in pending.items()}
            fatal = any(is_fatal for _line, is_fatal in diagnosed.values())
            if fatal or elapsed >= timeout:
                events = self.cluster.list("v1", "Event", self.namespace)
                lines = {key: diagnose(obj, rollout, pods, events)[0] for key, (obj, rollout) in pending.items()}
                why = "failed" if fatal else f"not ready after {int(round(elapsed))}s"
                raise WaitError(
                    f"{len(lines)} workload(s) {why}:\n" + "\n".join(f"  {line}" for line in lines.values()),
                    not_ready=[
                        {"kind": key[0], "name": key[1], "namespace": self.namespace, "reason": line}
                        for key, line in lines.items()
                    ],
                )
            self.sleep(max(0.0, min(pause, timeout - elapsed)))
            pause = min(pause * 2, self.interval)
