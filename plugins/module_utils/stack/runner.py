"""The module's run: every stack of the task rendered and checked first, then each converged or removed.

1. render every stack (no API call);
2. one client for the task (client.connect), then per stack one round of
   reads (converge.read_state);
3. validate each render the ApplySet parent does not already record as
   applied (its digest covers the Kubernetes version and the rules'
   revision): a bad input in any stack fails the task before any write;
4. converge (converge.present) or remove (absent.absent) the stacks in order;
   a failure stops there and names the stack.

Imports follow the run: Jinja and PyYAML only to render, kubernetes only to
reach a cluster, the schema libraries only for a render not validated before.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import StackError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.run import StackRun, stack_params

Connect = Callable[[Any, float, bool], Any]


def missing_library(module: Any) -> str | None:
    from ansible.module_utils.basic import missing_required_lib

    wanted = [("jinja2", "Jinja2"), ("yaml", "PyYAML")]
    if not module.params.get("dest"):
        wanted.append(("kubernetes", "kubernetes"))
    if module.params.get("validate"):
        wanted += [("kubernetes_validate", "kubernetes-validate"), ("jsonschema", "jsonschema")]
    for import_name, package in wanted:
        if importlib.util.find_spec(import_name) is None:
            return missing_required_lib(package)
    return None


def render(run: StackRun) -> Any:
    """The stack's Render: manifests (spec.replicas left to HPAs), digest and the copy kept for a rollback."""
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.apply import drop_autoscaled_replicas
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (
        encode_render,
        render_digest,
    )
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.converge import Render
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.render import render_stack
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.validate import RULES_REVISION

    params = run.params
    values = {**(params["values"] or {}), "secrets": params["secrets"] or {}}
    manifests = render_stack(
        params["src"], values, stack=run.stack, namespace=run.namespace, components=params["components"]
    )
    drop_autoscaled_replicas(manifests)
    # Component and body only: the template path depends on where the module ran.
    items = [{"component": m.component, "body": m.body} for m in manifests]
    checked = (f"rules {RULES_REVISION}", f"kubernetes {params['kubernetes_version']}") if params["validate"] else ()
    return Render(manifests, render_digest(items, checked), encode_render(items))


def validate(run: StackRun, manifests: list[Any]) -> None:
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.validate import validate_stack

    run.warnings += validate_stack(manifests, run.namespace, run.params["kubernetes_version"])


def write_files(run: StackRun) -> dict[str, Any]:
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.order import sort_for_apply
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.render import write_manifests

    manifests = render(run).manifests
    if run.params["validate"]:
        validate(run, manifests)
    files = write_manifests(manifests, run.params["dest"], check_mode=run.check_mode)
    objects = [
        {
            "apiVersion": m.api_version,
            "kind": m.kind,
            "name": m.name,
            "namespace": m.namespace,
            "component": m.component,
            "action": "rendered",
        }
        for m in sort_for_apply(manifests, lambda m: m.kind)
    ]
    return {"changed": bool(files), "files": files, "objects": objects}


def run_stacks(runs: list[StackRun], module: Any, connect: Connect, current: list[StackRun]) -> list[dict[str, Any]]:
    """Each stack's result, in order; a StackError propagates with `current` naming the stack it is about."""
    if runs[0].params["dest"]:
        results = []
        for run in runs:
            current[:] = [run]
            results.append(write_files(run))
        return results
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.absent import absent
    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.converge import present, read_state

    present_runs = [run for run in runs if run.params["state"] == "present"]
    renders = {}
    for run in present_runs:
        current[:] = [run]
        renders[id(run)] = render(run)
    current[:] = runs[:1]
    cluster = connect(module, runs[0].params["wait_timeout"], bool(module.check_mode))
    states = {}
    for run in present_runs:
        current[:] = [run]
        states[id(run)] = read_state(run, cluster, renders[id(run)].manifests)
    for run in present_runs:
        current[:] = [run]
        # The parent records the digest of the last render applied and validated: the same render passes again.
        if run.params["validate"] and states[id(run)].digest != renders[id(run)].digest:
            validate(run, renders[id(run)].manifests)
    results = []
    for run in runs:
        current[:] = [run]
        if id(run) in renders:
            present(run, cluster, renders[id(run)], states[id(run)])
        else:
            absent(run, cluster)
        results.append(run.result())
    return results


def execute(module: Any, connect: Connect | None = None) -> dict[str, Any]:
    """Run the task; every expected failure is an outcome with a message and details, never a traceback.

    The outcome: ``result`` (the module's return values), ``failure`` (the message, or None) and ``warnings``.
    """
    missing = missing_library(module)
    if missing:
        return {"result": {}, "failure": missing, "warnings": []}
    if connect is None:
        from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.client import connect
    check_mode, want_diff = bool(module.check_mode), bool(getattr(module, "_diff", False))
    runs = [StackRun(params, check_mode, want_diff) for params in stack_params(module.params)]
    several = bool(module.params.get("stacks"))
    done: list[dict[str, Any]] = []
    current: list[StackRun] = []
    failure = None
    try:
        done = run_stacks(runs, module, connect, current)
    except StackError as error:
        failure = (current[0] if current else runs[0], error)
    warnings = [warning for run in runs for warning in run.warnings]
    if not several:
        if failure:
            run, error = failure
            return {"result": run.result(**error.details), "failure": error.message, "warnings": warnings}
        return {"result": done[0], "failure": None, "warnings": warnings}
    return combined(runs, done, failure, warnings)


def combined(
    runs: list[StackRun],
    done: list[dict[str, Any]],
    failure: tuple[StackRun, StackError] | None,
    warnings: list[str],
) -> dict[str, Any]:
    """The result of a `stacks:` task: one entry per stack, the diff of all, the failing stack named."""
    entries = []
    for index, run in enumerate(runs):
        # `done` holds each finished stack's result (with dest: the files written); a failed one has its run's.
        entry = {"name": run.stack, "namespace": run.namespace, **(done[index] if index < len(done) else run.result())}
        entry.pop("diff", None)
        if failure and failure[0] is run:
            entry.update(failure[1].details)
        entries.append(entry)
        if failure and failure[0] is run:
            break
    result: dict[str, Any] = {"changed": any(entry["changed"] for entry in entries), "stacks": entries}
    diffs = [item for run in runs for item in run.diffs]
    if diffs:
        result["diff"] = diffs
    if failure:
        run, error = failure
        return {"result": {**result, **error.details}, "failure": f"{run}: {error.message}", "warnings": warnings}
    return {"result": result, "failure": None, "warnings": warnings}


def run_module(module: Any) -> None:
    """Run the task and exit the module with its result (fail_json on failure, never a traceback)."""
    outcome = execute(module)
    for warning in outcome["warnings"]:
        module.warn(warning)
    if outcome["failure"]:
        module.fail_json(msg=outcome["failure"], **outcome["result"])
        return
    module.exit_json(**outcome["result"])
