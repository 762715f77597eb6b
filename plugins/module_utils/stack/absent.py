"""state=absent: delete every member of the set and its parent; the namespace and (unless asked) claims stay."""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import check_parent
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cluster import Cluster
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import WaitError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import describe
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.prune import prune
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.run import PARENT_COMPONENT, StackRun


def absent(run: StackRun, cluster: Cluster) -> None:
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.converge import read_state

    state = read_state(run, cluster, [])
    if state.parent is None:
        return
    check_parent(state.parent, run.set_id)
    members = list(state.members.values())
    prune(run, cluster, members, set(), action="deleted")
    if cluster.delete(state.parent):
        run.record(state.parent, "deleted", PARENT_COMPONENT, before=state.parent)
    if run.params["wait"] and not run.check_mode:
        keep_claims = not run.params["prune_pvcs"]
        wait_gone(run, cluster, [o for o in members if not (keep_claims and o.get("kind") == "PersistentVolumeClaim")])


def wait_gone(run: StackRun, cluster: Cluster, bodies: list[dict[str, Any]]) -> None:
    deadline = time.monotonic() + run.params["wait_timeout"]
    remaining = list(bodies)
    while remaining:
        remaining = [
            b
            for b in remaining
            if cluster.get(b["apiVersion"], b["kind"], b["metadata"]["name"], run.namespace) is not None
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
                        "namespace": run.namespace,
                        "reason": "still terminating",
                    }
                    for b in remaining
                ],
            )
        time.sleep(run.params["wait_sleep"])
