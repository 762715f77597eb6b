"""Delete the members a render no longer has (and, with prune_pvcs, the claims their StatefulSets made).

Only labelled members of this set are candidates (applyset.plan_prune), each
delete carries the UID of the object as listed (cluster.Cluster.delete), and
claims hold data: they are kept, and leave the set, unless prune_pvcs is true.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import PART_OF_LABEL, plan_prune
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cluster import Cluster
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import ObjectKey
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.order import body_kind, sort_for_delete
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.run import StackRun


def statefulset_claims(run: StackRun, cluster: Cluster, statefulset: dict[str, Any]) -> list[dict[str, Any]]:
    """The claims a StatefulSet's volumeClaimTemplates made: listed by the set's selector (the controller
    puts its labels on them) and matched by name, '<template>-<statefulset>-<ordinal>'."""
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import statefulset_claim_names

    match = (statefulset.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    if not match:
        return []
    selector = ",".join(f"{key}={value}" for key, value in sorted(match.items()))
    claims = cluster.list("v1", "PersistentVolumeClaim", run.namespace, selector)
    names = set(statefulset_claim_names(statefulset, claims))
    return [claim for claim in claims if claim["metadata"]["name"] in names]


def prune(
    run: StackRun, cluster: Cluster, members: list[dict[str, Any]], wanted: set[ObjectKey], action: str = "pruned"
) -> None:
    plan = plan_prune(members, wanted, run.set_id, run.params["prune_pvcs"])
    for body in sort_for_delete(plan.delete, body_kind):
        if cluster.delete(body):
            run.record(body, action, run.component_of(body), before=body)
        if body.get("kind") == "StatefulSet" and run.params["prune_pvcs"]:
            for claim in statefulset_claims(run, cluster, body):
                if cluster.delete(claim):
                    run.record(claim, action, run.component_of(body), before=claim)
    for body in plan.retain:
        cluster.remove_label(body, PART_OF_LABEL)
        run.record(body, "retained", run.component_of(body))
