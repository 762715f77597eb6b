"""One stack of a task: its identity, its options and what happened to each of its objects.

A task deploys one stack (``name``/``namespace``/``src``...) or several
(``stacks:``); each gets a StackRun. The options shared by all stacks of the
task (wait, prune, field manager...) are in ``params`` beside the stack's own.
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.apply import COMPONENT_ANNOTATION
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (
    PART_OF_LABEL,
    applyset_id,
    parent_name,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import describe

# What each item of `stacks:` sets; everything else is the task's.
STACK_KEYS = ("name", "namespace", "src", "components", "values", "secrets", "state")
PARENT_COMPONENT = "(applyset parent)"


def stack_params(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameters of each stack of the task, in the order given."""
    shared = {key: value for key, value in params.items() if key not in ("stacks", *STACK_KEYS)}
    if params.get("stacks"):
        stacks = []
        for item in params["stacks"]:
            stack = {**shared, **{key: item.get(key) for key in STACK_KEYS}, "state": item.get("state") or "present"}
            if shared.get("dest"):
                stack["dest"] = os.path.join(shared["dest"], item["namespace"], item["name"])
            stacks.append(stack)
        return stacks
    return [{**shared, **{key: params.get(key) for key in STACK_KEYS}}]


class StackRun:
    """Collects per-object results as the run goes, so a failure can report them too."""

    def __init__(self, params: dict[str, Any], check_mode: bool, want_diff: bool) -> None:
        self.params = params
        self.stack = params["name"]
        self.namespace = params["namespace"]
        self.check_mode = check_mode
        self.want_diff = want_diff
        self.parent = parent_name(self.stack)
        self.set_id = applyset_id(self.parent, self.namespace)
        self.objects: list[dict[str, Any]] = []
        self.diffs: list[dict[str, str]] = []
        self.workloads: list[str] = []
        self.warnings: list[str] = []

    def __str__(self) -> str:
        return f"stack {self.stack} in {self.namespace}"

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
            from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.diff import diff_entry

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

    def is_member(self, body: dict[str, Any]) -> bool:
        return (body.get("metadata", {}).get("labels") or {}).get(PART_OF_LABEL) == self.set_id

    @staticmethod
    def component_of(body: dict[str, Any]) -> str | None:
        return (body.get("metadata", {}).get("annotations") or {}).get(COMPONENT_ANNOTATION)
