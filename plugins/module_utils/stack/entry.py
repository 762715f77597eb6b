"""The module's entry point: run in the warm worker when there is one, else in this process.

Kept to the standard library and the light worker client, so a module process
that the worker answers never imports the kubernetes package or Jinja.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.worker_client import WorkerLost, run_in_worker


def run_module(module: Any) -> None:
    """Run the stack and exit the module with its result (fail_json on failure, never a traceback)."""
    outcome = None
    if module.params.get("warm_worker"):
        try:
            outcome = run_in_worker(dict(module.params), bool(module.check_mode), bool(module._diff))
        except WorkerLost as error:
            module.fail_json(
                msg=f"the stack worker ended before answering ({error}); nothing guarantees how far the run got,"
                " rerun the task (it converges), or set warm_worker=false to run in the module process"
            )
            return
    if outcome is None:
        from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.runner import execute

        outcome = execute(module)
    for warning in outcome.get("warnings") or []:
        module.warn(warning)
    if outcome.get("failure"):
        extra = {"exception": outcome["exception"]} if outcome.get("exception") else {}
        module.fail_json(msg=outcome["failure"], **outcome.get("result", {}), **extra)
        return
    module.exit_json(**outcome["result"])
