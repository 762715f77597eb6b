"""Run orchestrator.k3s.stack through ansible-playbook against a test cluster and return its JSON result."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.apiserver import LocalCluster
from tests.unit.conftest import PLACEHOLDER_SECRETS, REPO, STACKS, stack_values

PLAYBOOK = Path(__file__).parent / "playbooks" / "stack.yml"
# The test cluster's only StorageClass (tests/support/apiserver.py); the inventory's `shared` is
# roles/shared_storage's, which this API server does not have: claims of it would never bind.
STORAGE_CLASS = "local-path"


def values_for(environment: str = "dev", **overrides: Any) -> dict[str, Any]:
    values = copy.deepcopy(stack_values(environment))
    values["storage"]["class_name"] = STORAGE_CLASS
    values.update(overrides)
    return values


def run_stack(
    cluster: LocalCluster,
    stack: str,
    namespace: str,
    *,
    check: bool = False,
    diff: bool = False,
    values: dict[str, Any] | None = None,
    src: Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The module's result for one run; `seconds` is the task's own duration as Ansible measured it."""
    extra = {
        "stack_name": stack,
        "stack_namespace": namespace,
        "stack_src": str(src or STACKS / stack),
        "stack_values": values if values is not None else values_for(),
        # The small stacks some tests write have no secrets.
        "stack_secrets": PLACEHOLDER_SECRETS.get(stack, {}),
        "kubeconfig": cluster.kubeconfig,
        **{f"stack_{key}": value for key, value in options.items()},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(extra, handle)
    try:
        command = [
            os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
            str(PLAYBOOK),
            "-e",
            f"@{handle.name}",
        ]
        command += ["--check"] if check else []
        command += ["--diff"] if diff else []
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json"}
        process = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        os.unlink(handle.name)
    try:
        task = json.loads(process.stdout)["plays"][0]["tasks"][0]
    except (ValueError, KeyError, IndexError) as error:
        raise AssertionError(
            f"ansible-playbook gave no JSON result:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
        ) from error
    result = task["hosts"]["localhost"]
    duration = task["task"]["duration"]
    result["seconds"] = (
        datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
        - datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
    ).total_seconds()
    assert (process.returncode != 0) == bool(result.get("failed")), process.stderr[-2000:]
    return result


def actions(result: dict[str, Any]) -> dict[str, str]:
    return {f"{o['kind']}/{o['name']}": o["action"] for o in result.get("objects", [])}


def live_objects(cluster: LocalCluster, namespace: str, kinds: str) -> dict[str, dict[str, Any]]:
    items = json.loads(cluster.kubectl("get", kinds, "-n", namespace, "-o", "json"))["items"]
    return {f"{i['kind']}/{i['metadata']['name']}": i for i in items}
