"""rollback_on_failure: after a failed apply or wait, converge back to the last good render kept on the parent.

Only a failure of the apply or of the wait starts it (converge.present); a
failure later (a prune, the parent's last write) leaves the new render, which
was applied and became ready, in place.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.apply import desired_body
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (
    LAST_GOOD_KEY,
    decode_render,
    stored_digest,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cluster import Cluster
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import StackError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import Manifest
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.order import sort_for_apply
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.run import StackRun


def rollback(run: StackRun, cluster: Cluster, error: StackError, parent_before: dict[str, Any] | None) -> None:
    """Extend `error` with the outcome: rolled back, nothing to roll back to, or the rollback failed too."""
    # converge imports this module when a rollback is due: imported here, not at the top, to avoid the cycle.
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.converge import (
        apply_and_wait,
        finish,
        read_state,
    )

    stored = decode_render(parent_before)
    if stored is None:
        error.message += "\nno earlier good render to roll back to"
        return
    manifests = [
        Manifest(item["component"], f"last good render of {item['component']}", item["body"]) for item in stored
    ]
    kept = (stored_digest(parent_before) or "", ((parent_before or {}).get("data") or {}).get(LAST_GOOD_KEY))
    try:
        state = read_state(run, cluster, manifests)
        desired = [(m, desired_body(m, run.set_id)) for m in sort_for_apply(manifests, lambda m: m.kind)]
        apply_and_wait(run, cluster, desired, dict(state.members), namespace_exists=True)
        finish(run, cluster, desired, state, state.parent, kept, namespace_exists=True)
    except StackError as rollback_error:
        error.message += f"\nrollback to the last good render failed too: {rollback_error.message}"
        error.details["rolled_back"] = False
        return
    error.message += "\nrolled back to the last good render"
    error.details["rolled_back"] = True
